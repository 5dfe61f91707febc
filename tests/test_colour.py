"""Colour operations: Reinhard transfer hits the reference's Lab statistics and is the identity on
an image's own statistics; pooled statistics equal those of the union; keep_colours takes lightness
from one image and chroma from the other."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import color, data
from skimage.transform import resize

from vaest.colour import LabStatistics, keep_colours, lab_statistics, reinhard_transfer

# Measured: astronaut -> coffee+chelsea statistics lands within 0.015 Lab units, a moderate-contrast
# astronaut within 0.071 (gamut clipping is what is left); they start 4 to 21 units away.
STATISTICS_TOLERANCE = 0.25
# Measured: transferring an image to its own statistics changes it by at most 6e-7.
IDENTITY_TOLERANCE = 1e-5
# Measured: with colours in [0.25, 0.75] nothing is clipped and keep_colours is exact to < 1e-3.
MODERATE_TOLERANCE = 0.01


def small(image: np.ndarray, shape=(96, 128)) -> np.ndarray:
    return resize(image, shape, anti_aliasing=True).astype(np.float32)


def moderate(image: np.ndarray) -> np.ndarray:
    """Squeeze colours into [0.25, 0.75] so no Lab result leaves the sRGB gamut."""
    return (0.25 + 0.5 * image).astype(np.float32)


@pytest.fixture(scope="module")
def images():
    return {
        "astronaut": small(data.astronaut()),
        "coffee": small(data.coffee()),
        "chelsea": small(data.chelsea()),
    }


def assert_statistics_close(actual: LabStatistics, expected: LabStatistics, tolerance: float):
    np.testing.assert_allclose(actual.mean, expected.mean, atol=tolerance)
    np.testing.assert_allclose(actual.std, expected.std, atol=tolerance)


def test_reinhard_matches_the_reference_statistics_image_by_image(images):
    reference = lab_statistics(np.stack([images["coffee"], images["chelsea"]]))
    batch = np.stack([images["astronaut"], moderate(images["astronaut"])])
    for image in batch:  # there is a palette to move
        start = lab_statistics(image)
        assert np.abs(np.subtract(start.mean, reference.mean)).max() > 10
        assert np.abs(np.subtract(start.std, reference.std)).max() > 4

    out = reinhard_transfer(batch, reference)

    assert out.shape == batch.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    for image in out:  # each image, not just the batch as a whole, has the reference's palette
        assert_statistics_close(lab_statistics(image), reference, STATISTICS_TOLERANCE)


def test_reinhard_to_own_statistics_is_the_identity(images):
    uint8_image = (images["astronaut"] * 255).round().astype(np.uint8)
    out = reinhard_transfer(uint8_image, lab_statistics(uint8_image))
    assert out.shape == uint8_image.shape
    np.testing.assert_allclose(out, uint8_image / 255.0, atol=IDENTITY_TOLERANCE)


def test_flat_image_takes_the_reference_mean(images):
    reference = lab_statistics(images["coffee"])
    flat = np.full((8, 8, 3), 0.5, np.float32)
    lab = color.rgb2lab(reinhard_transfer(flat, reference))
    np.testing.assert_allclose(lab.reshape(-1, 3).mean(axis=0), reference.mean, atol=0.5)


def test_pooled_statistics_equal_those_of_all_pixels(images):
    parts = [images["coffee"][None], np.stack([images["chelsea"], images["astronaut"]])]
    pooled = LabStatistics.pooled(lab_statistics(part) for part in parts)
    whole = lab_statistics(np.concatenate(parts))
    assert pooled.pixels == whole.pixels == 3 * 96 * 128
    assert_statistics_close(pooled, whole, 1e-9)


def test_keep_colours_takes_lightness_from_styled_and_chroma_from_source(images):
    styled = np.stack([moderate(images["astronaut"]), moderate(images["chelsea"])])
    source = np.stack([moderate(images["coffee"]), moderate(images["astronaut"])])
    styled_lab, source_lab = color.rgb2lab(styled), color.rgb2lab(source)
    assert np.abs(styled_lab[..., 1:] - source_lab[..., 1:]).mean() > 5  # the palettes differ

    out = keep_colours(styled, source)

    assert out.shape == styled.shape and out.dtype == np.float32
    out_lab = color.rgb2lab(out)
    np.testing.assert_allclose(out_lab[..., 0], styled_lab[..., 0], atol=MODERATE_TOLERANCE)
    np.testing.assert_allclose(out_lab[..., 1:], source_lab[..., 1:], atol=MODERATE_TOLERANCE)


def test_shapes_are_checked(images):
    with pytest.raises(ValueError, match="differ in shape"):
        keep_colours(images["coffee"], images["coffee"][:10])
    with pytest.raises(ValueError, match="RGB"):
        lab_statistics(images["coffee"][..., :2])
