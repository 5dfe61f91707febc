"""Steps 3-4: the shared training loop, the VAE and refiner trainings, validation, checkpoints."""
