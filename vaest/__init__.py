"""vaest: learn the look of a set of paintings with a convolutional VAE and paint it onto video."""

import os

# TensorFlow's C++ start-up chatter drowns the scripts' own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
