"""The export's inference graph: batch norm folded away, and a decoder with another last kernel."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

from vaest.errors import UserError
from vaest.export.fold import fold_vae
from vaest.export.read import Exported
from vaest.models.config import VaeConfig

# Folding changes the order of float32 roundings only: images in [0, 1] and latents agree to this.
TOLERANCE = 1e-4
# Ops that only batch norm, or training, puts into a graph.
BATCH_NORM_OPS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Rsqrt")
TRAINING_OPS = ("AssignVariableOp", "AssignSubVariableOp", "AssignAddVariableOp", "Mean")


def graph_ops(concrete) -> set[str]:
    """Op types of a concrete function's graph and every function it calls."""
    graph = concrete.graph.as_graph_def()
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def uneven_batch_norm(model: keras.Model, rng) -> None:
    """Moving statistics and affine terms far from the identity, so a wrong fold shows."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.5, n),
                 rng.uniform(0.2, 3, n)]
            )  # fmt: skip


@pytest.mark.parametrize("upsampling", ["resize", "transpose"])
def test_folded_models_compute_what_batch_norm_does(upsampling):
    from vaest.models.vae import VAE

    # Odd sizes on the way down exercise the decoder's crops; a 5x5 last kernel its own layer.
    config = VaeConfig(
        image_size=(20, 38), filters=(4, 6, 8), kernels=(3, 3, 3), latent_dim=8,
        upsampling=upsampling, output_kernel=5,
    )  # fmt: skip
    vae = VAE(config)
    rng = np.random.default_rng(0)
    uneven_batch_norm(vae.encoder, rng)
    uneven_batch_norm(vae.decoder, rng)
    encoder, decoder = fold_vae(vae)
    assert not any(isinstance(x, keras.layers.BatchNormalization) for x in encoder.layers)
    assert not any(isinstance(x, keras.layers.BatchNormalization) for x in decoder.layers)

    images = rng.uniform(0, 1, (3, 20, 38, 3)).astype(np.float32)
    for plain, folded in zip(vae.encoder(images), encoder(images), strict=True):
        np.testing.assert_allclose(folded.numpy(), plain.numpy(), atol=TOLERANCE)
    latents = rng.normal(0, 1, (3, 8)).astype(np.float32)
    plain, folded = vae.decoder(latents).numpy(), decoder(latents).numpy()
    np.testing.assert_allclose(folded, plain, atol=TOLERANCE)
    assert plain.std() > 0.01  # the decoder's output is not flat, so the comparison means something


@pytest.fixture(scope="module")
def tiny_export(tiny_run):
    """The shared run's export with its VAE and refiner as Keras models, loaded once."""
    from vaest.train.checkpoints import load_trained_refiner, load_trained_vae

    vae, _ = load_trained_vae(tiny_run)
    refiner, _, _ = load_trained_refiner(tiny_run)
    return Exported.from_run(tiny_run), vae, refiner


def test_export_matches_the_unfolded_keras_models(tiny_export):
    import tensorflow as tf

    exported, vae, refiner = tiny_export
    assert exported.info["folded"] is True
    assert vae.config.normalization == "batch"
    images = np.random.default_rng(1).uniform(0, 1, (4, 36, 64, 3)).astype(np.float32)
    source, target = exported.domain("clip").centroid, exported.domain("art").centroid

    mean, log_variance = exported.encode(images)
    keras_mean, keras_log_variance = (t.numpy() for t in vae.encoder(tf.constant(images)))
    np.testing.assert_allclose(mean, keras_mean, atol=TOLERANCE)
    np.testing.assert_allclose(log_variance, keras_log_variance, atol=TOLERANCE)
    np.testing.assert_allclose(
        exported.decode(keras_mean), vae.decoder(tf.constant(keras_mean)).numpy(), atol=TOLERANCE
    )
    shifted = keras_mean - 0.25 * source + 0.5 * target
    expected = refiner(vae.decoder(tf.constant(shifted))).numpy()
    stylized = exported.stylize(images, source, target, 0.25, 0.5)
    np.testing.assert_allclose(stylized, expected, atol=TOLERANCE)


def test_exported_graph_has_no_batch_norm_or_training_ops(tiny_export):
    from vaest.export.write import StyleModel

    exported, vae, _ = tiny_export
    model = exported.model
    for name in ("encode", "decode", "stylize"):
        signature = model.signatures[name]
        ops = graph_ops(signature)
        assert "Conv2D" in ops and "BiasAdd" in ops
        assert not ops & {*BATCH_NORM_OPS, *TRAINING_OPS}, name
        assert not [v.name for v in signature.variables if "_bn/" in v.name], name

    # The same check finds batch norm in the graph built without folding.
    plain = StyleModel(vae.config, vae.encoder, vae.decoder).signatures(36, 64, 16)["decode"]
    assert "Rsqrt" in graph_ops(plain)
    assert any("moving_variance" in v.name for v in plain.variables)


def test_a_vae_with_another_last_kernel_exports_and_stylizes(tiny_run, tmp_path):
    from vaest.export.write import export
    from vaest.train.vae import VaeSettings, train_vae

    run = tmp_path / "run"
    run.mkdir()
    shutil.copytree(tiny_run / "data", run / "data")
    model = {"filters": (8, 8, 16), "kernels": (5, 3, 3), "latent_dim": 16, "output_kernel": 3}
    settings = VaeSettings(steps=6, batch_size=8, save_every=6, preview_every=6)
    train_vae(run, settings, model)
    assert json.loads((run / "vae" / "config.json").read_text())["output_kernel"] == 3
    export(run)  # no refiner: the VAE alone

    exported = Exported.from_run(run)
    shapes = {v.name: v.shape.as_list() for v in exported.model.signatures["decode"].variables}
    assert shapes["dec0/kernel:0"] == [3, 3, 8, 3]  # the last kernel, not kernels[0]
    assert shapes["dec1/kernel:0"][:2] == [3, 3]
    images = np.random.default_rng(2).integers(0, 256, (2, 36, 64, 3), dtype=np.uint8)
    source, target = exported.domain("clip").centroid, exported.domain("art").centroid
    stylized = exported.stylize(images, source, target, 0.25, 0.5)
    assert stylized.shape == (2, 36, 64, 3) and np.isfinite(stylized).all()
    mean, _ = exported.encode(images)
    np.testing.assert_allclose(
        stylized, exported.decode(mean - 0.25 * source + 0.5 * target), atol=1e-5
    )


def test_output_kernel_is_3_for_new_models_and_kernels_0_for_old_configs():
    assert VaeConfig().last_kernel == 3 and VaeConfig().kernels[0] == 7
    old = {"filters": [4, 4], "kernels": [7, 3], "latent_dim": 8}  # a config.json from before
    assert VaeConfig.from_dict(old).last_kernel == 7
    assert VaeConfig.from_dict(VaeConfig().to_dict()) == VaeConfig()
    assert VaeConfig.from_dict({**old, "output_kernel": 3}).last_kernel == 3
    with pytest.raises(UserError, match="output_kernel"):
        VaeConfig(output_kernel=-1)
