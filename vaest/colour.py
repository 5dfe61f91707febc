"""Colour-space operations in CIE Lab: Reinhard colour transfer and keeping a source's colours.

Lab separates lightness (L) from chroma (a, b), with roughly decorrelated channels for natural
images, so a per-channel shift and scale moves a palette without smearing one channel into another
(Reinhard, Ashikhmin, Gooch & Shirley 2001, "Color Transfer between Images"; they used lalphabeta,
CIE Lab serves the same purpose and ships with scikit-image).

Images are uint8 in [0, 255] or float in [0, 1], shaped [H,W,3] or [N,H,W,3]; results are float32
in [0, 1] with the input's shape. Colours outside the sRGB gamut are clipped, which moves the
statistics of strongly saturated results slightly off their targets.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from skimage import color

from vaest.io.imaging import as_float_images

# A channel with a smaller standard deviation than this is treated as flat: it is moved to the
# reference mean instead of being stretched by a huge factor.
FLAT_STD = 1e-6


@dataclass(frozen=True)
class LabStatistics:
    """Per-channel mean and standard deviation of L, a, b over `pixels` pixels.

    `pixels` lets statistics of batches be pooled exactly (see `pooled`), so a reference set too
    big to hold in memory can be summarised batch by batch.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pixels: int

    @staticmethod
    def pooled(parts: Iterable[LabStatistics]) -> LabStatistics:
        """The statistics of the union of the parts' pixels (population variance, exact)."""
        parts = list(parts)
        if not parts:
            raise ValueError("cannot pool the statistics of no images")
        counts = np.array([p.pixels for p in parts], np.float64)[:, None]
        means = np.array([p.mean for p in parts], np.float64)
        second_moments = np.array([p.std for p in parts], np.float64) ** 2 + means**2
        total = counts.sum()
        mean = (counts * means).sum(axis=0) / total
        variance = np.maximum((counts * second_moments).sum(axis=0) / total - mean**2, 0.0)
        return LabStatistics(_triple(mean), _triple(np.sqrt(variance)), int(total))


def _triple(values) -> tuple[float, float, float]:
    return tuple(float(v) for v in values)


def to_float_rgb(images) -> np.ndarray:
    """uint8 or float images -> float64 in [0, 1], checking for a trailing RGB axis."""
    images = np.asarray(images)
    if images.ndim not in (3, 4) or images.shape[-1] != 3:
        raise ValueError(f"expected [H,W,3] or [N,H,W,3] RGB images, got shape {images.shape}")
    if images.dtype == np.uint8:
        return images.astype(np.float64) / 255.0
    return np.clip(images.astype(np.float64), 0.0, 1.0)


def rgb_to_lab(images) -> np.ndarray:
    return color.rgb2lab(to_float_rgb(images))


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab -> float32 RGB in [0, 1]; out-of-gamut colours are clipped (silently: it is expected)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*negative Z values.*")
        rgb = color.lab2rgb(lab)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def lab_statistics(images) -> LabStatistics:
    """Mean and standard deviation of each Lab channel, pooled over all pixels of all images."""
    pixels = rgb_to_lab(images).reshape(-1, 3)
    return LabStatistics(_triple(pixels.mean(axis=0)), _triple(pixels.std(axis=0)), len(pixels))


def reinhard_transfer(images, reference_stats: LabStatistics) -> np.ndarray:
    """Give each image the reference's per-channel Lab mean and standard deviation.

    Each image is moved from its own statistics: lab' = (lab - mean_img) * std_ref / std_img +
    mean_ref, channel by channel, so its shading and texture survive and only the palette changes.
    """
    lab = rgb_to_lab(images)
    batch = lab if lab.ndim == 4 else lab[None]
    mean = batch.mean(axis=(1, 2), keepdims=True)
    std = batch.std(axis=(1, 2), keepdims=True)
    scale = np.where(std > FLAT_STD, np.asarray(reference_stats.std) / np.maximum(std, FLAT_STD), 0)
    moved = (batch - mean) * scale + np.asarray(reference_stats.mean)
    return lab_to_rgb(moved.reshape(lab.shape))


YCBCR_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601, as in JPEG's YCbCr
COLOUR_SPACES = ("lab", "ycbcr")


def keep_colours(styled, source, space: str = "lab") -> np.ndarray:
    """Lightness from `styled`, chroma from `source`: the painting's texture on the film's own
    palette.

    lab: L from styled, a and b from source (perceptually even, three colour conversions).
    ycbcr: luma Y from styled, Cb and Cr from source, the luminance-only transfer of Gatys et al.
    2016 ("Preserving Color in Neural Artistic Style Transfer", with YIQ). Y is linear in RGB, and
    the source's chroma is its offset from grey, source - Y_source, so the result is Y_styled +
    (source - Y_source): a few operations per pixel, for frames at 4K. Where that leaves the RGB
    cube (a saturated colour made lighter or darker) the offset is scaled down just enough to
    fit, keeping the luma and the hue, instead of clipping channels, which would shift the hue.
    """
    if space == "ycbcr":
        styled, source = as_float_images(styled), as_float_images(source)  # float32: 4K frames
        if styled.shape != source.shape:
            raise ValueError(f"styled {styled.shape} and source {source.shape} differ in shape")
        luma = np.clip(styled @ YCBCR_LUMA, 0.0, 1.0)[..., None]
        offset = source - (source @ YCBCR_LUMA)[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(
                offset > 0, (1.0 - luma) / offset, np.where(offset < 0, -luma / offset, 1)
            )
        scale = np.clip(room.min(axis=-1, keepdims=True), 0.0, 1.0)
        return np.clip(luma + scale * offset, 0.0, 1.0)
    if space != "lab":
        raise ValueError(f"colour space must be one of {', '.join(COLOUR_SPACES)}, not {space!r}")
    styled_lab = rgb_to_lab(styled)
    source_lab = rgb_to_lab(source)
    if styled_lab.shape != source_lab.shape:
        raise ValueError(f"styled {styled_lab.shape} and source {source_lab.shape} differ in shape")
    combined = np.concatenate([styled_lab[..., :1], source_lab[..., 1:]], axis=-1)
    return lab_to_rgb(combined)
