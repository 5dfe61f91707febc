"""Image-quality and latent-space figures on real photographs and synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.filters import gaussian, sobel_h, sobel_v

from vaest.measure import metrics


@pytest.fixture(scope="module")
def batch(photos) -> np.ndarray:
    """Three real photos cropped to 160x240, float in [0, 1]: [3, 160, 240, 3]."""
    crops = [photos[name][40:200, 40:280] for name in ("astronaut", "coffee", "chelsea")]
    return np.stack(crops).astype(np.float64) / 255.0


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([gaussian(image, sigma=sigma, channel_axis=-1) for image in images])


def texture_features(images: np.ndarray) -> np.ndarray:
    """A tiny filter bank: colour plus horizontal and vertical luminance gradients."""
    lum = metrics.luminance(images)
    grads = [np.stack([f(y) for y in lum])[..., None] for f in (sobel_h, sobel_v)]
    return np.concatenate([images, *grads], axis=-1)


def test_luminance_uses_rec709_weights():
    colours = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(metrics.luminance(colours), [0.2126, 0.7152, 0.0722, 0.5])
    white = np.full((2, 2, 3), 255, np.uint8)
    np.testing.assert_allclose(metrics.luminance(white), 1.0)


def test_identical_images_score_perfectly(batch):
    assert metrics.psnr(batch, batch).tolist() == [np.inf] * 3
    np.testing.assert_allclose(metrics.ssim(batch, batch), 1.0)
    np.testing.assert_allclose(metrics.edge_correlation(batch, batch), 1.0)
    np.testing.assert_allclose(metrics.sharpness_ratio(batch, batch), 1.0)


def test_psnr_matches_a_known_mse(batch):
    base = 0.1 + 0.8 * batch[:2]  # room to add without clipping
    shifted = base + np.array([0.05, 0.01])[:, None, None, None]  # MSE 0.0025 and 0.0001
    np.testing.assert_allclose(metrics.psnr(base, shifted), [26.0206, 40.0], atol=1e-3)
    # uint8 inputs are scaled to [0, 1]: one level off everywhere is 20 log10(255) dB.
    a = (base[0] * 255).astype(np.uint8)
    np.testing.assert_allclose(metrics.psnr(a, a + 1), [20 * np.log10(255)], atol=1e-9)


def test_blur_lowers_sharpness_edges_and_quality(batch):
    mild, strong = blur(batch, 1.0), blur(batch, 3.0)
    sharp_mild = metrics.sharpness_ratio(mild, batch)
    sharp_strong = metrics.sharpness_ratio(strong, batch)
    assert np.all(sharp_strong < sharp_mild) and np.all(sharp_mild < 0.8)
    edges_mild = metrics.edge_correlation(mild, batch)
    edges_strong = metrics.edge_correlation(strong, batch)
    assert np.all(edges_strong < edges_mild) and np.all(edges_mild < 0.95)
    assert np.all(metrics.ssim(strong, batch) < metrics.ssim(mild, batch))
    assert np.all(metrics.psnr(strong, batch) < metrics.psnr(mild, batch))


def test_noise_raises_sharpness_ratio(batch):
    noisy = np.clip(batch + np.random.default_rng(0).normal(0, 0.05, batch.shape), 0, 1)
    assert np.all(metrics.sharpness_ratio(noisy, batch) > 1.1)


def test_edge_correlation_ignores_a_change_of_colour_and_contrast(batch):
    # Same structure, other tones: PSNR collapses, the edges correlate perfectly.
    retoned = 0.3 + 0.3 * batch
    np.testing.assert_allclose(metrics.edge_correlation(retoned, batch), 1.0, atol=1e-9)
    assert np.all(metrics.psnr(retoned, batch) < 20)
    # Different photos do not share edges.
    others = np.roll(batch, 1, axis=0)
    assert np.all(np.abs(metrics.edge_correlation(others, batch)) < 0.2)


def test_mismatched_shapes_are_refused(batch):
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.psnr(batch, batch[:2])


def test_colour_distance_is_zero_for_the_same_set_and_grows_with_recolouring(batch):
    stats = metrics.colour_statistics(batch)
    assert metrics.colour_distance(stats, stats) == pytest.approx(0.0, abs=1e-6)
    # Streaming batches gives the same statistics as the whole array.
    streamed = metrics.colour_statistics([batch[:1], batch[1:]])
    np.testing.assert_allclose(streamed.mean, stats.mean)
    np.testing.assert_allclose(streamed.covariance, stats.covariance)
    assert streamed.pixels == batch.shape[0] * batch.shape[1] * batch.shape[2]
    pooled = metrics.pooled_colour_statistics(
        [metrics.colour_statistics(batch[:1]), metrics.colour_statistics(batch[1:])]
    )
    np.testing.assert_allclose(pooled.mean, stats.mean)
    np.testing.assert_allclose(pooled.covariance, stats.covariance, atol=1e-9)
    assert pooled.pixels == stats.pixels

    swapped = metrics.colour_statistics(batch[..., ::-1])  # RGB -> BGR: reds turn blue
    faded = metrics.colour_statistics(0.5 + 0.5 * (batch - 0.5))  # less contrast
    slightly = metrics.colour_statistics(np.clip(batch * 1.02, 0, 1))
    d_swap = metrics.colour_distance(stats, swapped)
    d_fade = metrics.colour_distance(stats, faded)
    d_slight = metrics.colour_distance(stats, slightly)
    assert d_swap > 10 and d_fade > 5
    assert d_slight < min(d_swap, d_fade) / 3
    assert metrics.colour_distance(swapped, stats) == pytest.approx(d_swap, rel=1e-6)


def test_colour_distance_of_flat_colours_is_their_lab_distance():
    red = metrics.colour_statistics(np.tile([1.0, 0.0, 0.0], (4, 4, 1)))
    white = metrics.colour_statistics(np.ones((4, 4, 3)))
    np.testing.assert_allclose(white.mean, [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(white.std, 0, atol=1e-3)
    expected = np.linalg.norm(red.mean - white.mean)  # CIE76 delta E, no spread on either side
    assert metrics.colour_distance(red, white) == pytest.approx(expected, rel=1e-6)
    assert expected > 50


def test_gram_distance_measures_texture_not_layout(batch):
    features = texture_features(batch)
    assert metrics.gram_matrix(features).shape == (3, 5, 5)
    assert metrics.gram_distance(features, features) == 0.0
    # Moving content around leaves texture statistics exactly as they were.
    moved = np.roll(features, (37, 91), axis=(1, 2))
    assert metrics.gram_distance(features, moved) == pytest.approx(0.0, abs=1e-15)
    # Smoothing the texture changes them, more with more smoothing.
    mild = metrics.gram_distance(features, texture_features(blur(batch, 1.0)))
    strong = metrics.gram_distance(features, texture_features(blur(batch, 3.0)))
    assert 0 < mild < strong


def test_roc_auc_on_separated_reversed_tied_and_random_scores():
    labels = np.array([0] * 5 + [1] * 5)
    scores = np.arange(10.0)
    assert metrics.roc_auc(scores, labels) == 1.0
    assert metrics.roc_auc(-scores, labels) == 0.0
    assert metrics.roc_auc(np.ones(10), labels) == 0.5
    # One tie between a positive and a negative counts a half: (1 + 0.5 + 1 + 1) / 4.
    assert metrics.roc_auc([1, 2, 2, 3], [0, 0, 1, 1]) == 0.875
    rng = np.random.default_rng(0)
    random_labels = rng.integers(0, 2, 4000)
    assert metrics.roc_auc(rng.normal(size=4000), random_labels) == pytest.approx(0.5, abs=0.03)


def test_roc_auc_equals_the_pairwise_definition_with_many_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, 300)  # few distinct values: many ties
    labels = rng.random(300) < 0.3 + 0.1 * scores
    pos, neg = scores[labels], scores[~labels]
    diff = pos[:, None] - neg[None, :]
    expected = (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / diff.size
    assert metrics.roc_auc(scores, labels) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="both"):
        metrics.roc_auc([0.1, 0.2], [1, 1])


def test_pca_recovers_the_dominant_directions():
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    spread = np.array([10.0, 4.0, 1.0, 1.0, 0.5, 0.5])
    x = (rng.normal(size=(2000, 6)) * spread) @ rotation.T + 7.0  # rows of rotation.T: axes
    projected, components, mean = metrics.pca_2d(x)
    assert projected.shape == (2000, 2) and components.shape == (2, 6)
    np.testing.assert_allclose(mean, 7.0, atol=0.5)
    assert abs(components[0] @ rotation[:, 0]) > 0.99
    assert abs(components[1] @ rotation[:, 1]) > 0.98
    np.testing.assert_allclose(components @ components.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(projected, (x - mean) @ components.T)
    np.testing.assert_allclose(projected.std(axis=0), spread[:2], rtol=0.1)
    # Reproducible sign: the largest coefficient of each component is positive.
    assert all(c[np.argmax(np.abs(c))] > 0 for c in components)
