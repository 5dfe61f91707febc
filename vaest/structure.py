"""Keeping a frame's structure while it takes a painting's look, and measuring both.

Every method starts from the shifted latent z' = mu - a * c_source + b * c_target of a frame x:
- `refine`: decode(z') through the refiner, as the original design did (the seed design when the
  refiner is unguided; a guided refiner also sees the frame's luminance detail, `detail` of it);
- `split`: a non-learned baseline, the low frequencies of decode(z') plus the frame's own high
  frequencies, `detail` of them;
- `residual` (the default): the `refine` output plus `detail` of what the model could not rebuild
  of the frame, x - refine(decode(mu)), less that residual's mean colour. The residual holds the
  frame's fine structure and the colour variation the VAE smooths away; its mean is the model's
  colour bias on this frame, not structure, so it is dropped and the mean colour comes from z'.
  It costs a second decode and refine, of mu.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from vaest import metrics
from vaest.latent import Shift

METHODS = ("residual", "refine", "split")
DEFAULT_METHOD = "residual"
SPLIT_SIGMA = 3.0  # pixels: the split baseline takes the frame's detail finer than this


def as_float_frames(frames) -> np.ndarray:
    """uint8 or float [0,1] images -> float32 [0,1]."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames.astype(np.float32) / 255.0
    return frames.astype(np.float32, copy=False)


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


def residual_transfer(styled, rebuilt, frames, detail: float = 1.0) -> np.ndarray:
    """styled + detail * (frames - rebuilt), the residual's mean colour removed per frame."""
    residual = np.asarray(frames, np.float32) - np.asarray(rebuilt, np.float32)
    residual -= residual.mean(axis=(1, 2), keepdims=True)
    return np.clip(np.asarray(styled, np.float32) + detail * residual, 0.0, 1.0)


def stylize_latents(
    exported, frames, shifted, means, method=DEFAULT_METHOD, refine=True, detail=1.0
) -> np.ndarray:
    """Stylized frames from their shifted latents z' (and their means mu, for `residual`).

    `exported` is a vaest.exported.Exported; refine=False leaves the refiner out of `refine` and
    `residual`. Frames are uint8 or float [0,1] at the model size; the result is float [0,1].
    """
    return _stylize(exported, frames, shifted, means, (method,), refine, detail)[method]


def stylize_by_method(exported, frames, shift: Shift, detail=1.0, means=None):
    """{method: output} for the same frames at z' = shift.apply(mu); means: the frames' mu,
    when already known."""
    if means is None:
        means, _ = exported.encode(frames)
    return _stylize(exported, frames, shift.apply(means), means, METHODS, True, detail)


def _stylize(exported, frames, shifted, means, methods, refine, detail) -> dict[str, np.ndarray]:
    """{method: output} for the methods asked, sharing one decode (and refine) of z' (and mu)."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method {unknown.pop()!r}; the methods are {', '.join(METHODS)}")
    frames = as_float_frames(frames)
    count = len(frames)
    latents = np.concatenate([shifted, means]) if "residual" in methods else shifted
    decoded = exported.decode(latents)
    found = {}
    if "split" in methods:
        found["split"] = frequency_split(decoded[:count], frames, detail)
    if "refine" in methods or "residual" in methods:
        guides = np.concatenate([frames] * (len(latents) // count))
        refined = exported.refine(decoded, guides, detail) if refine else decoded
        found["refine"] = refined[:count]
        if "residual" in methods:
            found["residual"] = residual_transfer(refined[:count], refined[count:], frames, detail)
    return {method: found[method] for method in methods}


class StyleTally:
    """Style figures (see style_figures) gathered batch by batch, for sets too big to hold.

    With `texture` (a vaest.features.TextureFeatures) it also pools the Gram matrices of the
    outputs and the frames, for a texture figure.
    """

    def __init__(self, texture=None):
        self.texture = texture
        self.edge_correlation, self.sharpness = [], []
        self.colours = {"output": [], "input": []}
        self.grams = {"output": [], "input": []}  # (per-layer Gram means, image count)

    def add(self, outputs, frames) -> None:
        outputs, frames = as_float_frames(outputs), as_float_frames(frames)
        self.edge_correlation.extend(metrics.edge_correlation(outputs, frames))
        self.sharpness.extend(metrics.sharpness_ratio(outputs, frames))
        for key, images in (("output", outputs), ("input", frames)):
            self.colours[key].append(metrics.colour_statistics(images))
            if self.texture is not None:
                from vaest.features import texture_statistics

                self.grams[key].append((texture_statistics(self.texture, images), len(images)))

    def figures(self, paintings_colour: metrics.ColourStats, paintings_texture=None):
        """{figure: value}; texture_distance_ratio only with texture features and the
        paintings' texture statistics (vaest.features.texture_statistics)."""
        before, after = (
            metrics.colour_distance(
                metrics.pooled_colour_statistics(self.colours[key]), paintings_colour
            )
            for key in ("input", "output")
        )
        found = {
            "edge_correlation": float(np.mean(self.edge_correlation)),
            "sharpness": float(np.mean(self.sharpness)),
            "colour_distance_ratio": float(after / max(before, 1e-9)),
        }
        if self.texture is not None and paintings_texture is not None:
            from vaest.features import pooled_texture_statistics, texture_distance_to

            before, after = (
                texture_distance_to(pooled_texture_statistics(self.grams[key]), paintings_texture)
                for key in ("input", "output")
            )
            found["texture_distance_ratio"] = float(after / max(before, 1e-12))
        return found


def style_figures(
    outputs, frames, paintings_colour: metrics.ColourStats, texture=None, paintings_texture=None
) -> dict[str, float]:
    """How much structure a stylized output keeps and how far its colours (and texture) moved.

    - edge_correlation: of Sobel edge strength with the input frame (1: the same edges);
    - sharpness: gradient energy relative to the input frame's (1: as sharp);
    - colour_distance_ratio: distance of the outputs' colour statistics to the paintings',
      relative to the input frames' distance (below 1: closer to the paintings);
    - texture_distance_ratio, with `texture` features and the paintings' texture statistics:
      the same for the VGG Gram-matrix distance (vaest.features.texture_distance_to).
    """
    tally = StyleTally(texture)
    tally.add(outputs, frames)
    return tally.figures(paintings_colour, paintings_texture)
