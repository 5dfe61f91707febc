"""The networks and their configs: the VAE, the refiner and the painter. No file I/O (their
checkpoints are vaest.train.checkpoints'; the texture loss is vaest.measure.feature_loss)."""
