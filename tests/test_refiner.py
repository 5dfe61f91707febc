"""The refiner (step 4): beats the VAE output on held-out PSNR, leaves the VAE untouched, resumes,
and names the missing step when there is no trained VAE."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_vae import SMALL, assert_one_line_error, make_tiny_data, run_script

from vaest.data.pipeline import training_dataset
from vaest.data.records import load_manifest
from vaest.errors import MissingStep
from vaest.models.config import RefinerConfig
from vaest.train import refiner as refiner_training
from vaest.train.checkpoints import latest_step, load_trained_refiner, load_trained_vae
from vaest.train.refiner import RefinerSettings, train_refiner
from vaest.train.refining import RefinerTrainer
from vaest.train.vae import VaeSettings, train_vae

VAE_STEPS = 40
REFINER_STEPS = 60


def refiner_settings(steps: int) -> RefinerSettings:
    return RefinerSettings(
        steps=steps, batch_size=8, learning_rate=5e-4, save_every=1000, preview_every=1000
    )


def file_digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def weight_values(model) -> list[np.ndarray]:
    return [w.numpy().copy() for w in model.weights]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, photos):
    """Tiny data, a short VAE run, then a short refiner run, with the VAE seen before and after."""
    run_dir = tmp_path_factory.mktemp("refiner") / "run"
    make_tiny_data(run_dir, photos)
    vae_settings = VaeSettings(
        steps=VAE_STEPS, batch_size=8, learning_rate=1e-3, save_every=1000, preview_every=1000
    )
    train_vae(run_dir, vae_settings, SMALL)
    vae_before, _ = load_trained_vae(run_dir)
    before = SimpleNamespace(
        weights=weight_values(vae_before), files=file_digests(run_dir / "vae" / "checkpoints")
    )
    figures = train_refiner(run_dir, refiner_settings(REFINER_STEPS))
    return SimpleNamespace(run_dir=run_dir, figures=figures, before=before)


def test_refiner_beats_the_vae_output_on_held_out_psnr(trained):
    figures = trained.figures
    domains = sorted(k.split("/", 1)[1] for k in figures if k.startswith("psnr_vae/"))
    assert domains == ["art", "clip"]
    gains = {d: figures[f"psnr_refined/{d}"] - figures[f"psnr_vae/{d}"] for d in domains}
    for d in domains:
        assert figures[f"psnr_gain/{d}"] == pytest.approx(gains[d], abs=1e-6)
    shown = ", ".join(
        f"{d} {figures[f'psnr_vae/{d}']:.2f} -> {figures[f'psnr_refined/{d}']:.2f} dB"
        for d in domains
    )
    print(f"held-out PSNR, VAE output -> refined: {shown}")
    assert np.mean(list(gains.values())) > 0.0, shown

    refiner, config, step = load_trained_refiner(trained.run_dir)
    assert step == REFINER_STEPS
    assert config == RefinerConfig(image_size=(36, 64))
    assert refiner is not None


def test_vae_is_unchanged_by_refiner_training(trained):
    vae_after, step = load_trained_vae(trained.run_dir)
    assert step == VAE_STEPS
    after = weight_values(vae_after)
    assert len(after) == len(trained.before.weights)
    for a, b in zip(after, trained.before.weights, strict=True):
        assert np.array_equal(a, b)
    assert file_digests(trained.run_dir / "vae" / "checkpoints") == trained.before.files


def test_vae_held_by_the_trainer_stays_frozen(trained):
    """The VAE inside the training model, batch-norm statistics included, does not move."""
    import keras

    run_dir = trained.run_dir
    vae, _ = load_trained_vae(run_dir)
    model = RefinerTrainer(vae, RefinerConfig(image_size=vae.config.image_size))
    model(np.zeros((1, *vae.config.image_size, 3), np.float32))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae_before, refiner_before = weight_values(vae), weight_values(model.refiner)
    data, _ = training_dataset(run_dir / "data", load_manifest(run_dir / "data"), batch_size=8)
    model.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 3
    for a, b in zip(weight_values(vae), vae_before, strict=True):
        assert np.array_equal(a, b)
    moved = [
        not np.array_equal(a, b)
        for a, b in zip(weight_values(model.refiner), refiner_before, strict=True)
    ]
    assert any(moved)


def refiner_iterations(run_dir: Path) -> int:
    import tensorflow as tf

    path = tf.train.latest_checkpoint(str(run_dir / "refiner" / "checkpoints"))
    names = [n for n, _ in tf.train.list_variables(path) if n.startswith("optimizer/")]
    (key,) = [n for n in names if "iterations" in n]
    return int(tf.train.load_checkpoint(path).get_tensor(key))


def test_refiner_resumes_at_the_saved_step(trained, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    shutil.copytree(trained.run_dir, run_dir)
    assert refiner_iterations(run_dir) == REFINER_STEPS
    starts = []

    def spy(*args, start_step, **kw):
        starts.append(start_step)
        return training_dataset(*args, start_step=start_step, **kw)

    monkeypatch.setattr(refiner_training, "training_dataset", spy)
    figures = train_refiner(run_dir, refiner_settings(REFINER_STEPS + 10))
    assert starts == [REFINER_STEPS]  # the data, and so the steps, continue where they stopped
    assert latest_step(run_dir / "refiner") == REFINER_STEPS + 10
    assert refiner_iterations(run_dir) == REFINER_STEPS + 10
    assert set(figures) == set(trained.figures)
    assert latest_step(run_dir / "vae") == VAE_STEPS


def test_missing_vae_is_named(trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained.run_dir / "data", run_dir / "data")
    with pytest.raises(MissingStep, match="train_vae.py"):
        train_refiner(run_dir, refiner_settings(5))
    result = run_script("train_refiner.py", f"--run_dir={run_dir}", "--steps=5")
    assert_one_line_error(result, "no trained VAE", "train_vae.py")
    assert not (run_dir / "refiner").exists()
