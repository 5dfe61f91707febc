"""Steps 3-4: the shared training loop, and the VAE's, the refiner's and the painter's trainings,
with their validation and checkpoints (which read trained models back for the export)."""
