"""What a style classifier must not take for a painting: frames and photographs, recoloured in
many ways (vaest.measure.deception).

With only the frames and their Reinhard transfer to the paintings' pooled palette as negatives, a
classifier took unseen frames given that very transfer for paintings (three quarters of them
toward candy, measured by bench/deception.py; 0.01 with the negatives below), and plain frames of
unseen photographs for some paintings: a few hundred frames of one shot do not show it which of
their features are the colour, nor what other photographs look like. So the negatives are
- the frames, and each frame graded by a kind drawn at random:
  - `pooled`: Reinhard transfer to the paintings' pooled Lab statistics (the non-learned
    baseline);
  - `one`: Reinhard transfer to one painting image's own statistics (its local palette:
    stronger and more varied than the pooled one);
  - `histogram`: each Lab channel matched to one painting image's distribution (the whole
    palette, not only its mean and spread);
  - `hue`: the a-b plane rotated by a random angle and its saturation scaled;
  - `contrast`: lightness stretched or flattened about its mean, and shifted;
  then, half of the time, slightly blurred or sharpened: neither adds brushwork;
- random crops of two photographs that ship inside scikit-image's wheel (a portrait with flags and
  a rocket launch: hard edges, flat sky and deep colours that a run's frames may lack), and each
  crop graded the same way.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from vaest.colour import lab_statistics, lab_to_rgb, reinhard_transfer, rgb_to_lab
from vaest.io.imaging import as_float_images, resize, tile_boxes

KINDS = ("pooled", "one", "histogram", "hue", "contrast")
COPIES = 1  # graded versions of each frame (bench/deception.py: 2 or 3 did no better)
# The photographs (scikit-image names) and how many crops of each join the negatives.
# Not coffee, chelsea or the demo's painting sources: runs (the tests') take those for paintings.
PHOTOGRAPHS = ("astronaut", "rocket")
CROPS_PER_PHOTOGRAPH = 30
SATURATION = (0.4, 1.8)  # the range of the `hue` kind's chroma scale
CONTRAST = (0.6, 1.5)  # the range of the `contrast` kind's lightness scale
BRIGHTNESS = 15.0  # and its lightness shift, at most this many L units either way
BLUR_SIGMA = (0.5, 1.5)  # pixels
SHARPEN = (0.5, 1.5)  # unsharp-mask amount, with a 1-pixel Gaussian
FILTERED_SHARE = 0.5  # of the recoloured frames are then blurred or sharpened


def _match_histograms(lab: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each channel of one Lab image [H, W, 3] mapped onto the reference's quantiles."""
    out = np.empty_like(lab)
    quantiles = np.linspace(0.0, 1.0, 256)
    for c in range(3):
        values = lab[..., c].ravel()
        ranks = np.empty(values.size)
        ranks[np.argsort(values, kind="stable")] = np.linspace(0.0, 1.0, values.size)
        target = np.quantile(reference[..., c], quantiles)
        out[..., c] = np.interp(ranks, quantiles, target).reshape(lab.shape[:2])
    return out


def _graded(frame_lab: np.ndarray, kind: str, painting_lab: np.ndarray, rng) -> np.ndarray:
    """One Lab frame [H, W, 3] graded by `kind` ("one", "histogram", "hue" or "contrast")."""
    lab = frame_lab.copy()
    if kind == "one":
        mean, std = frame_lab.mean(axis=(0, 1)), frame_lab.std(axis=(0, 1))
        target_mean, target_std = painting_lab.mean(axis=(0, 1)), painting_lab.std(axis=(0, 1))
        lab = (frame_lab - mean) * (target_std / np.maximum(std, 1e-6)) + target_mean
    elif kind == "histogram":
        lab = _match_histograms(frame_lab, painting_lab)
    elif kind == "hue":
        angle, scale = rng.uniform(0, 2 * np.pi), rng.uniform(*SATURATION)
        cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
        a, b = frame_lab[..., 1], frame_lab[..., 2]
        lab[..., 1], lab[..., 2] = cos * a - sin * b, sin * a + cos * b
    elif kind == "contrast":
        lightness = frame_lab[..., 0]
        stretch, shift = rng.uniform(*CONTRAST), rng.uniform(-BRIGHTNESS, BRIGHTNESS)
        lab[..., 0] = (lightness - lightness.mean()) * stretch + lightness.mean() + shift
    else:
        raise ValueError(f"unknown recolouring {kind!r}")
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    return lab


def _filtered(image: np.ndarray, rng) -> np.ndarray:
    """A float RGB image [H, W, 3] blurred or sharpened a little (one of the two at random)."""
    if rng.random() < 0.5:
        return ndimage.gaussian_filter(image, (*[rng.uniform(*BLUR_SIGMA)] * 2, 0))
    blurred = ndimage.gaussian_filter(image, (1.0, 1.0, 0))
    return np.clip(image + rng.uniform(*SHARPEN) * (image - blurred), 0.0, 1.0)


def recoloured_frames(frames, paintings, copies: int = COPIES, seed: int = 0) -> np.ndarray:
    """`copies` graded versions of every frame, float32 [copies * N, H, W, 3] in [0, 1].

    frames and paintings: [N, H, W, 3] images (uint8 or float in [0, 1]); the paintings give
    the palettes. Each copy is graded by a kind drawn at random (KINDS), then perhaps blurred or
    sharpened. Seeded: the same inputs give the same frames.
    """
    rng = np.random.default_rng(seed)
    frames = as_float_images(frames)
    pooled_palette = lab_statistics(paintings)
    out = []
    for _ in range(copies):
        for frame in frames:
            kind = KINDS[rng.integers(len(KINDS))]
            if kind == "pooled":
                image = reinhard_transfer(frame, pooled_palette)
            else:
                painting = rgb_to_lab(paintings[rng.integers(len(paintings))])
                image = lab_to_rgb(_graded(rgb_to_lab(frame), kind, painting, rng))
            if rng.random() < FILTERED_SHARE:
                image = _filtered(image, rng)
            out.append(image)
    return np.stack(out).astype(np.float32)


def photograph_crops(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """CROPS_PER_PHOTOGRAPH random crops of each of PHOTOGRAPHS at `size` (H, W), with its aspect
    and 25% to 100% of the largest such box's side, as painting tiles are cut: uint8."""
    from skimage import data

    rng = np.random.default_rng(seed)
    crops = []
    for name in PHOTOGRAPHS:
        photo = getattr(data, name)()
        for top, left, h, w in tile_boxes(photo.shape[:2], size, CROPS_PER_PHOTOGRAPH, rng):
            crops.append(resize(np.ascontiguousarray(photo[top : top + h, left : left + w]), *size))
    return np.stack(crops)


def negative_images(frames, paintings, copies: int = COPIES, seed: int = 0) -> np.ndarray:
    """The negatives beyond the frames themselves: `copies` gradings of each frame toward the
    paintings, the photograph crops at the frames' size and one grading of each crop. float32
    [N, H, W, 3] in [0, 1]."""
    frames = as_float_images(frames)
    photographs = as_float_images(photograph_crops(frames.shape[1:3], seed))
    return np.concatenate(
        [
            recoloured_frames(frames, paintings, copies, seed),
            photographs,
            recoloured_frames(photographs, paintings, 1, seed + 1),
        ]
    )
