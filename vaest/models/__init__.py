"""The networks and their configs: VAE, refiner, painter, texture loss. No file I/O."""
