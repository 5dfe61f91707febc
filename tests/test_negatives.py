"""The style classifier's negatives: frames graded toward the paintings' palettes (each kind doing
what it says, the frame's structure kept) and crops of the bundled photographs."""

from __future__ import annotations

import numpy as np
import pytest

from vaest.colour import rgb_to_lab
from vaest.measure.metrics import edge_correlation
from vaest.measure.negatives import (
    CROPS_PER_PHOTOGRAPH,
    PHOTOGRAPHS,
    SATURATION,
    _graded,
    negative_images,
    photograph_crops,
    recoloured_frames,
)

SIZE = (48, 64)


@pytest.fixture(scope="module")
def frames(photos) -> np.ndarray:
    """Six 48x64 crops of two photographs, float in [0, 1]."""
    crops = [photos[n][y : y + 96 : 2, x : x + 128 : 2] for n in ("coffee", "chelsea")
             for y, x in ((20, 30), (120, 200), (200, 100))]  # fmt: skip
    return np.stack(crops).astype(np.float32) / 255


@pytest.fixture(scope="module")
def paintings(photos) -> np.ndarray:
    """Warm, flat "paintings": blocks of the astronaut photo, tinted."""
    image = photos["astronaut"][::8, ::8].astype(np.float32) / 255
    tiles = [image[y : y + SIZE[0], x : x + SIZE[1]] for y, x in ((0, 0), (10, 0), (0, 0))]
    return np.clip(np.stack(tiles) * np.array([1.2, 0.9, 0.5]), 0, 1).astype(np.float32)


def test_graded_frames_keep_the_structure_and_change_the_colours(frames, paintings):
    graded = recoloured_frames(frames, paintings, copies=3, seed=0)
    assert graded.shape == (3 * len(frames), *frames.shape[1:]) and graded.dtype == np.float32
    assert 0.0 <= graded.min() and graded.max() <= 1.0
    originals = np.concatenate([frames] * 3)
    # measured 0.70-1.00: a blurred copy loses fine edges, a grade keeps every edge
    assert edge_correlation(graded, originals).min() > 0.5
    chroma_change = np.abs(rgb_to_lab(graded)[..., 1:] - rgb_to_lab(originals)[..., 1:])
    # Lab units; measured 11 (a contrast grade leaves the chroma as it was)
    assert np.median(chroma_change.mean(axis=(1, 2, 3))) > 3.0
    again, other = (recoloured_frames(frames, paintings, copies=3, seed=s) for s in (0, 1))
    np.testing.assert_array_equal(graded, again)
    assert not np.array_equal(graded, other)


def test_each_kind_of_grade_does_what_it_says(frames, paintings):
    frame, painting = rgb_to_lab(frames[0]), rgb_to_lab(paintings[0])
    rng = np.random.default_rng(0)

    one = _graded(frame, "one", painting, rng)  # Reinhard: the painting's mean and spread
    np.testing.assert_allclose(one.mean(axis=(0, 1))[1:], painting.mean(axis=(0, 1))[1:], atol=1e-6)
    np.testing.assert_allclose(one.std(axis=(0, 1))[1:], painting.std(axis=(0, 1))[1:], atol=1e-6)

    matched = _graded(frame, "histogram", painting, rng)  # the painting's whole distribution
    for q in (10, 50, 90):
        np.testing.assert_allclose(
            np.percentile(matched, q, axis=(0, 1)), np.percentile(painting, q, axis=(0, 1)),
            atol=1.0,
        )  # fmt: skip

    hue = _graded(frame, "hue", painting, rng)  # same lightness, chroma scaled
    np.testing.assert_array_equal(hue[..., 0], frame[..., 0])
    ratio = np.hypot(hue[..., 1], hue[..., 2]).sum() / np.hypot(frame[..., 1], frame[..., 2]).sum()
    assert SATURATION[0] - 1e-6 <= ratio <= SATURATION[1] + 1e-6

    contrast = _graded(frame, "contrast", painting, rng)  # same chroma, other lightness
    np.testing.assert_array_equal(contrast[..., 1:], frame[..., 1:])
    assert not np.allclose(contrast[..., 0], frame[..., 0])

    with pytest.raises(ValueError, match="unknown recolouring"):
        _graded(frame, "sepia", painting, rng)


def test_photograph_crops_come_at_any_size_and_differ():
    crops = photograph_crops(SIZE)
    assert crops.shape == (len(PHOTOGRAPHS) * CROPS_PER_PHOTOGRAPH, *SIZE, 3)
    assert crops.dtype == np.uint8
    assert len({c.tobytes() for c in crops}) == len(crops)
    assert photograph_crops((20, 30), seed=1).shape[1:3] == (20, 30)


def test_negative_images_are_graded_frames_photographs_and_graded_photographs(frames, paintings):
    negatives = negative_images(frames, paintings, copies=2)
    photographs = len(PHOTOGRAPHS) * CROPS_PER_PHOTOGRAPH
    assert negatives.shape == (2 * len(frames) + 2 * photographs, *frames.shape[1:])
    np.testing.assert_allclose(
        negatives[2 * len(frames) : 2 * len(frames) + photographs],
        photograph_crops(frames.shape[1:3]) / 255,
        atol=1e-6,
    )
