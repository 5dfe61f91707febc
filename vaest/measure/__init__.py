"""Figures that judge pictures: image metrics, VGG texture statistics, style figures."""
