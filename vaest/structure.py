"""Keeping a frame's structure while it takes a painting's look, and measuring both.

Three ways to turn a shifted latent z' into a stylized frame are compared:
- `seed`: the original design, decode(z') through an unguided refiner (or the decode alone);
- `split`: a non-learned baseline, the low frequencies of decode(z') plus the frame's own high
  frequencies, `detail` of them;
- `guided`: the structure-guided refiner, fed decode(z') and the frame's luminance detail.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from vaest import metrics

SPLIT_SIGMA = 3.0  # pixels: the split baseline takes the frame's detail finer than this


def low_pass(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of [N,H,W,3] images over height and width only."""
    return gaussian_filter(
        np.asarray(images, np.float32), sigma=(0, sigma, sigma, 0), mode="reflect"
    )


def frequency_split(decoded, frames, detail: float = 1.0, sigma: float = SPLIT_SIGMA):
    """Low frequencies from decode(z'), high frequencies from the frame: the baseline."""
    frames = np.asarray(frames, np.float32)
    detail_of_frame = frames - low_pass(frames, sigma)
    return np.clip(low_pass(decoded, sigma) + detail * detail_of_frame, 0.0, 1.0)


def style_figures(outputs, frames, paintings_colour: metrics.ColourStats) -> dict[str, float]:
    """How much structure a stylized output keeps and how far its colours moved.

    - edge_correlation: of Sobel edge strength with the input frame (1: the same edges);
    - sharpness: gradient energy relative to the input frame's (1: as sharp);
    - colour_distance_ratio: distance of the outputs' colour statistics to the paintings',
      relative to the input frames' distance (below 1: closer to the paintings).
    """
    before = metrics.colour_distance(metrics.colour_statistics(frames), paintings_colour)
    after = metrics.colour_distance(metrics.colour_statistics(outputs), paintings_colour)
    return {
        "edge_correlation": float(np.mean(metrics.edge_correlation(outputs, frames))),
        "sharpness": float(np.mean(metrics.sharpness_ratio(outputs, frames))),
        "colour_distance_ratio": float(after / max(before, 1e-9)),
    }


def stylize_by_method(
    exported, frames, source, target, source_weight: float, target_weight: float, detail=1.0
):
    """Every method's output for the same frames at z' = mu - a * source + b * target.

    `exported` is a vaest.exported.Exported. Returns {method: images}; `guided` only when the
    export has a guided refiner, `seed` is its unguided refiner or else the decode alone.
    """
    mean, _ = exported.encode(frames)
    shift = target_weight * np.asarray(target) - source_weight * np.asarray(source)
    decoded = exported.decode(mean + shift[None])
    frames = np.asarray(frames, np.float32)
    if frames.max() > 1.0:
        frames = frames / 255.0
    found = {"split": frequency_split(decoded, frames, detail)}
    if exported.guided:
        found["guided"] = exported.refine(decoded, frames, detail)
    else:
        found["seed"] = exported.refine(decoded)
    return found
