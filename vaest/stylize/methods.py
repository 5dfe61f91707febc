"""How a stylized frame keeps its structure while it takes a painting's look.

Every method starts from the shifted latent z' (vaest.latent.Shift) of a frame x:
- `refine`: decode(z') through the refiner, as the original design did (the seed design when the
  refiner is unguided; a guided refiner also sees the frame's luminance detail, `detail` of it);
- `split`: a non-learned baseline, the low frequencies of decode(z') plus the frame's own high
  frequencies, `detail` of them;
- `residual` (the default without a painter): the `refine` output plus `detail` of what the
  model could not rebuild of the frame, x - refine(decode(mu)), less that residual's mean
  colour. The residual holds the frame's fine structure and the colour variation the VAE
  smooths away; its mean is the model's colour bias on this frame, not structure, so it is
  dropped and the mean colour comes from z'.
  It costs a second decode and refine, of mu.
- `paint` (--method auto's when the painter beat `residual`; vaest.stylize.paint): the painter
  network (train_refiner.py --painter) on the `residual` picture, its colour guide, at the paint
  resolution. Made here is that guide; on an export without a painter, `paint` is a MissingStep
  naming the training command.
- `optimize`: each picture found by optimisation toward the frame's content, the paintings'
  texture and decode(z')'s colours (vaest.stylize.optimize.method); slow, and needs no training
  beyond the VAE's.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from vaest.errors import MissingStep
from vaest.io.imaging import as_float_images
from vaest.latent import Shift

LATENT_METHODS = ("residual", "refine", "split", "paint")  # computed from z' batch by batch
# What stylize_by_method compares: paint is the painter's, which needs its domain weights too
# (vaest.stylize.paint), so the evaluation paints residual's pictures itself.
COMPARED_METHODS = ("residual", "refine", "split")
# optimize (vaest.stylize.optimize.method) finds each picture by optimisation, frame by frame
METHODS = (*LATENT_METHODS, "optimize")


DEFAULT_METHOD = "residual"  # the latent methods' default, and --method auto's without a painter
AUTO = "auto"  # --method's default: paint when the export's painter paints, else DEFAULT_METHOD


SPLIT_SIGMA = 3.0  # pixels: the split baseline takes the frame's detail finer than this


def low_pass(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of [N,H,W,3] images over height and width only."""
    return gaussian_filter(
        np.asarray(images, np.float32), sigma=(0, sigma, sigma, 0), mode="reflect"
    )


def require_method(exported, method: str) -> None:
    """A MissingStep naming the training command when the export cannot serve `method`."""
    if method == "paint" and not exported.has_painter:
        run = exported.folder.parent
        raise MissingStep(
            f"--method paint is the painter, and {exported.folder} has none: run "
            f"`python train_refiner.py --run_dir {run} --painter` and "
            f"`python export_graphs.py --run_dir {run}`"
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
    exported, frames, shifted, means, *, method=DEFAULT_METHOD, refine=True, detail=1.0
) -> np.ndarray:
    """Stylized frames from their shifted latents z' (and their means mu, for `residual`).

    `exported` is a vaest.export.read.Exported; refine=False leaves the refiner out of `refine` and
    `residual`. Frames are uint8 or float [0,1] at the model size; the result is float [0,1].
    """
    return _stylize(exported, frames, shifted, means, (method,), refine=refine, detail=detail)[
        method
    ]


def stylize_by_method(exported, frames, shift: Shift, detail=1.0, means=None):
    """{method: output} of COMPARED_METHODS for the same frames at z' = shift.apply(mu); means:
    the frames' mu, when already known."""
    if means is None:
        means, _ = exported.encode(frames)
    return _stylize(exported, frames, shift.apply(means), means, COMPARED_METHODS, detail=detail)


def _stylize(
    exported, frames, shifted, means, methods, *, refine=True, detail=1.0
) -> dict[str, np.ndarray]:
    """{method: output} for the methods asked, sharing one decode (and refine) of z' (and mu)."""
    unknown = set(methods) - set(LATENT_METHODS)
    if unknown:
        raise ValueError(
            f"unknown method {unknown.pop()!r}; the methods are {', '.join(LATENT_METHODS)}"
        )
    for method in methods:
        require_method(exported, method)
    frames = as_float_images(frames)
    count = len(frames)
    rebuild = {"residual", "paint"} & set(methods)  # the painter's guide is residual's output
    latents = np.concatenate([shifted, means]) if rebuild else shifted
    decoded = exported.decode(latents)
    found = {}
    if "split" in methods:
        found["split"] = frequency_split(decoded[:count], frames, detail)
    if {"refine", "residual", "paint"} & set(methods):
        guides = np.concatenate([frames] * (len(latents) // count))
        refined = exported.refine(decoded, guides, detail) if refine else decoded
        found["refine"] = refined[:count]
        if rebuild:
            found["residual"] = residual_transfer(refined[:count], refined[count:], frames, detail)
            # paint's, at the model size, is the guide; it is painted at the paint resolution
            found["paint"] = found["residual"]
    return {method: found[method] for method in methods}
