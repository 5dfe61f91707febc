"""The VAE (step 3): shapes, the KL term, learning, exact resume, config checks, a two-replica
strategy, stopping on a non-finite loss, and train_vae.py's errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import make_video

from vaest.data.pipeline import training_dataset
from vaest.errors import ConfigMismatch, TrainingDiverged
from vaest.models.config import VaeConfig
from vaest.models.vae import VAE, kl_to_prior
from vaest.train import vae as vae_training
from vaest.train.checkpoints import latest_step, load_config, load_trained_vae
from vaest.train.vae import VaeSettings, train_vae

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"filters": (8, 8, 16, 16, 16, 16), "kernels": (3, 3, 3, 3, 3, 3), "latent_dim": 16}
QUIET = {"save_every": 1000, "preview_every": 1000}  # only the final checkpoint and preview


def make_tiny_data(run_dir: Path, photos: dict) -> Path:
    """RUN/data at 36x64: a 40-frame clip at stride 1 and tiles of two photographs."""
    from PIL import Image

    from vaest.data.extract import extract
    from vaest.data.sources import Options, plan_domains

    sources = run_dir.parent / "sources"
    sources.mkdir(parents=True)
    clip = make_video(sources / "clip.mp4", frames=40, size="128x72", source="testsrc2")
    paintings = sources / "paintings"
    paintings.mkdir()
    for name in ("coffee", "chelsea"):
        Image.fromarray(photos[name]).save(paintings / f"{name}.png")
    options = Options(image_size=(36, 64), frame_stride=1, tiles_per_painting=12, val_fraction=0.2)
    plans = plan_domains([f"clip={clip}"], [f"art={paintings}"], options)
    extract(plans, options, run_dir)
    return run_dir / "data"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory, photos) -> Path:
    return make_tiny_data(tmp_path_factory.mktemp("vae") / "run", photos)


@pytest.fixture
def new_run(tmp_path, tiny_data):
    """A fresh run directory holding a copy of the tiny data."""

    def make(name: str = "run") -> Path:
        run_dir = tmp_path / name
        shutil.copytree(tiny_data, run_dir / "data")
        return run_dir

    return make


def settings(steps: int, **kw) -> VaeSettings:
    return VaeSettings(steps=steps, **{"batch_size": 8, "learning_rate": 1e-3, **QUIET, **kw})


def checkpoint_iterations(run_dir: Path) -> int:
    """The optimizer's step count as stored in the newest checkpoint file."""
    import tensorflow as tf

    path = tf.train.latest_checkpoint(str(run_dir / "vae" / "checkpoints"))
    names = [n for n, _ in tf.train.list_variables(path) if n.startswith("optimizer/")]
    (key,) = [n for n in names if "iterations" in n]
    return int(tf.train.load_checkpoint(path).get_tensor(key))


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in last
    return last


@pytest.mark.parametrize("upsampling", ["resize", "transpose"])
@pytest.mark.parametrize("size", [(180, 320), (90, 160), (36, 64), (48, 80)])
def test_decoder_output_matches_input_size(size, upsampling):
    import keras

    config = VaeConfig(image_size=size, upsampling=upsampling)
    model = VAE(config)
    images = np.random.default_rng(0).random((2, *size, 3), np.float32)
    out = model(images).numpy()
    assert out.shape == images.shape
    assert out.min() >= 0.0 and out.max() <= 1.0

    # Every encoder layer's real output has the size the config predicts.
    layers = [model.encoder.get_layer(f"enc{i}").output for i in range(len(config.filters))]
    inner = keras.Model(model.encoder.input, layers)
    got = [tuple(t.shape[1:3]) for t in inner(images)]
    assert got == config.layer_sizes
    mean, log_variance = model.encode(images)
    assert mean.shape == log_variance.shape == (2, 512)
    if size == (180, 320):
        assert got == [(90, 160), (45, 80), (23, 40), (12, 20), (6, 10), (3, 5)]


def test_kl_matches_closed_form():
    mean = np.array([[0.5, -1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    log_variance = np.array([[0.0, -1.0, 0.7, 1.5], [0.0, 0.0, 0.0, 0.0]], np.float32)
    got = kl_to_prior(mean, log_variance).numpy()
    m, lv = mean.astype(np.float64), log_variance.astype(np.float64)
    expected = 0.5 * np.sum(np.exp(lv) + m**2 - 1.0 - lv, axis=1)
    assert got.shape == (2,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert got[1] == pytest.approx(0.0, abs=1e-6)  # the prior itself
    assert got[0] > 3.0


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_data):
    """A run trained straight to 30 steps, with its validation figures before and after."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    shutil.copytree(tiny_data, run_dir / "data")
    fresh = train_vae(run_dir, settings(0), SMALL)  # no steps: the untrained model's figures
    no_checkpoint = latest_step(run_dir / "vae") is None
    trained = train_vae(run_dir, settings(30), SMALL)
    return SimpleNamespace(
        run_dir=run_dir, fresh=fresh, trained=trained, no_checkpoint=no_checkpoint
    )


def test_training_lowers_validation_loss(straight):
    fresh, trained = straight.fresh, straight.trained
    assert straight.no_checkpoint
    assert latest_step(straight.run_dir / "vae") == 30
    assert trained["loss"] < 0.9 * fresh["loss"], (fresh, trained)
    for domain in ("clip", "art"):
        assert trained[f"psnr/{domain}"] > fresh[f"psnr/{domain}"] + 0.3, (fresh, trained)
    assert (straight.run_dir / "vae" / "previews" / "step-0000030.png").exists()
    saved = load_config(VaeConfig, straight.run_dir / "vae")
    assert saved == VaeConfig(image_size=(36, 64), **SMALL)


def test_resume_continues_exactly_and_refuses_another_config(straight, new_run, monkeypatch):
    split = new_run("split")
    train_vae(split, settings(10), SMALL)
    assert latest_step(split / "vae") == 10 and checkpoint_iterations(split) == 10

    # The resumed run's data starts at batch 10, so its first step is step 11.
    starts = []

    def spy(*args, start_step, **kw):
        starts.append(start_step)
        return training_dataset(*args, start_step=start_step, **kw)

    monkeypatch.setattr(vae_training, "training_dataset", spy)
    split_figures = train_vae(split, settings(30), SMALL)
    assert starts == [10]
    assert latest_step(split / "vae") == 30 and checkpoint_iterations(split) == 30

    # Stopping and resuming changes nothing: same data, noise and optimizer state.
    a, _ = load_trained_vae(straight.run_dir)
    b, _ = load_trained_vae(split)
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=1e-5, atol=1e-6, err_msg=wa.path)
    assert split_figures["loss"] == pytest.approx(straight.trained["loss"], rel=1e-5)

    saved = (split / "vae" / "config.json").read_text()
    with pytest.raises(ConfigMismatch, match="latent_dim: 16 .saved. vs 32 .asked."):
        train_vae(split, settings(40), {**SMALL, "latent_dim": 32})
    result = run_script("train_vae.py", f"--run_dir={split}", "--latent_dim=32", "--steps=40")
    assert_one_line_error(result, "different config", "latent_dim")
    assert (split / "vae" / "config.json").read_text() == saved
    assert latest_step(split / "vae") == 30


def test_non_finite_loss_keeps_last_good_checkpoint(new_run):
    run_dir = new_run()
    train_vae(run_dir, settings(4, save_every=2), SMALL)
    assert latest_step(run_dir / "vae") == 4
    good, _ = load_trained_vae(run_dir)
    good_weights = [w.numpy() for w in good.weights]

    with pytest.raises(TrainingDiverged, match=r"at step \d+") as caught:
        train_vae(run_dir, settings(10, save_every=2, learning_rate=1e30), SMALL)
    bad_step = int(re.search(r"at step (\d+)", str(caught.value)).group(1))
    assert 4 < bad_step <= 10
    assert "ckpt-4" in str(caught.value)

    assert latest_step(run_dir / "vae") == 4
    assert checkpoint_iterations(run_dir) == 4
    kept, _ = load_trained_vae(run_dir)
    for w, before in zip(kept.weights, good_weights, strict=True):
        assert np.all(np.isfinite(w.numpy()))
        assert np.array_equal(w.numpy(), before)


MIRRORED_SCRIPT = """
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from vaest.train import vae as vae_training
from vaest.train.checkpoints import load_trained_vae
from vaest.train.vae import VaeSettings, train_vae

replicas, make_strategy = [], vae_training.make_strategy


def spy(name, *args, **kw):  # records the strategy train_vae itself builds
    strategy = make_strategy(name, *args, **kw)
    replicas.append(strategy.num_replicas_in_sync)
    return strategy


vae_training.make_strategy = spy
run_dir, overrides = sys.argv[1], json.loads(sys.argv[2])
settings = VaeSettings(
    steps=3, batch_size=8, strategy="mirrored", save_every=1000, preview_every=1000
)
figures = train_vae(run_dir, settings, overrides)
_, step = load_trained_vae(run_dir)
print(json.dumps({"replicas": replicas, "loss": figures["loss"], "step": step}))
"""


def test_mirrored_strategy_trains_on_two_logical_cpus(new_run):
    run_dir = new_run()
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(run_dir), json.dumps(SMALL)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == [2]
    assert report["step"] == 3
    assert np.isfinite(report["loss"])
    assert latest_step(run_dir / "vae") == 3


def test_script_without_data_gives_one_line_error(tmp_path):
    run_dir = tmp_path / "empty"
    result = run_script("train_vae.py", f"--run_dir={run_dir}", "--steps=2")
    assert_one_line_error(result, "manifest.json", "extract_tiles.py")
    assert not (run_dir / "vae").exists()
