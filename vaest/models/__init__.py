"""The networks and their configs: VAE, refiner, discriminator, texture loss. No file I/O."""
