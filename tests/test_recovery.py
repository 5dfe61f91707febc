"""Nothing lost: damaged or unindexed checkpoints, Ctrl-C during a save, a full disk, cut shards."""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import tensorflow as tf
from conftest import TINY_MODEL, make_video
from PIL import Image

from vaest.data import preview
from vaest.data.extract import extract
from vaest.data.sources import Options, plan_domains
from vaest.errors import ConfigMismatch, UserError
from vaest.run_dir import RunDir, checkpoints
from vaest.train import loop
from vaest.train.checkpoints import latest_step, load_trained_vae
from vaest.train.vae import VaeSettings, train_vae


def settings(steps: int, **more) -> VaeSettings:
    return VaeSettings(
        steps=steps, batch_size=4, learning_rate=1e-3, save_every=2, preview_every=100, **more
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, photos) -> Path:
    """Records at 36x64 and a tiny VAE trained 4 steps, saved at steps 2 and 4."""
    run = tmp_path_factory.mktemp("recovery") / "run"
    run.mkdir()
    clip = make_video(run / "clip.mp4", frames=12, size="128x72")
    (run / "art").mkdir()
    Image.fromarray(photos["coffee"]).save(run / "art" / "coffee.png")
    options = Options(image_size=(36, 64), frame_stride=1, tiles_per_painting=8, val_fraction=0.2)
    extract(plan_domains([f"clip={clip}"], [f"art={run / 'art'}"], options), options, run)
    train_vae(run, settings(4), TINY_MODEL)
    return run


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    shutil.copytree(trained / "data", tmp_path / "data")
    shutil.copytree(trained / "vae", tmp_path / "vae")
    return tmp_path


def ckpt_files(run: Path) -> dict[str, bytes]:
    folder = checkpoints(RunDir(run).vae)
    return {p.name: p.read_bytes() for p in folder.glob("ckpt-*")}


def test_missing_index_recovers_the_newest_checkpoint(run_copy):
    folder = checkpoints(RunDir(run_copy).vae)
    (folder / "checkpoint").unlink()
    assert latest_step(RunDir(run_copy).vae) == 4
    saved = {p.name: p.stat().st_mtime_ns for p in folder.glob("ckpt-[24].*")}
    train_vae(run_copy, settings(6))
    # Resumed at 4: a restart at 0 would have saved ckpt-2 and ckpt-4 again.
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("ckpt-[24].*")} == saved
    assert latest_step(RunDir(run_copy).vae) == 6


def test_damaged_newest_checkpoint_falls_back_to_the_one_before(run_copy, caplog):
    data = checkpoints(RunDir(run_copy).vae) / "ckpt-4.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    assert latest_step(RunDir(run_copy).vae) == 2
    assert "ckpt-4 is damaged" in caplog.text
    model, step = load_trained_vae(run_copy)  # what the export reads
    assert step == 2
    train_vae(run_copy, settings(4))
    assert latest_step(RunDir(run_copy).vae) == 4  # trained again from step 2


def test_no_complete_checkpoint_needs_overwrite(run_copy):
    folder = checkpoints(RunDir(run_copy).vae)
    for data in folder.glob("ckpt-*.data-*"):
        data.unlink()
    kept = ckpt_files(run_copy)
    with pytest.raises(UserError, match="none is complete: run again with --overwrite"):
        train_vae(run_copy, settings(2))
    assert ckpt_files(run_copy) == kept
    train_vae(run_copy, settings(2, overwrite=True))
    assert latest_step(RunDir(run_copy).vae) == 2


def test_edited_config_names_the_field(run_copy):
    path = RunDir(run_copy).vae / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "latent_dim": 32}))
    with pytest.raises(ConfigMismatch, match="latent_dim: 16 -> 32"):
        train_vae(run_copy, settings(6))
    with pytest.raises(ConfigMismatch, match="latent_dim"):
        load_trained_vae(run_copy)


def test_second_ctrl_c_during_the_save_on_interrupt_loses_nothing(run_copy, monkeypatch):
    """The first Ctrl-C stops training at step 5; a second one arrives while it is saved."""
    original_end = loop._Monitor.on_train_batch_end

    def first_ctrl_c(self, batch, logs=None):
        original_end(self, batch, logs)
        if self.model.optimizer.iterations.numpy() == 5:
            raise KeyboardInterrupt

    original_save = tf.train.CheckpointManager.save

    def second_ctrl_c(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(loop._Monitor, "on_train_batch_end", first_ctrl_c)
    monkeypatch.setattr(tf.train.CheckpointManager, "save", second_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        train_vae(run_copy, settings(20))
    assert latest_step(RunDir(run_copy).vae) == 5


def test_full_disk_during_a_save_names_it_and_leaves_no_partial_save(run_copy, monkeypatch):
    def full(self, checkpoint_number=None, **kwargs):
        partial = Path(self.directory) / f"ckpt-{checkpoint_number}_temp"
        partial.mkdir()
        raise tf.errors.ResourceExhaustedError(None, None, "write failed: No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    with pytest.raises(OSError) as err:
        train_vae(run_copy, settings(6))
    assert err.value.errno == errno.ENOSPC and err.value.filename.endswith("ckpt-6")
    assert not list(checkpoints(RunDir(run_copy).vae).glob("*_temp*"))
    assert latest_step(RunDir(run_copy).vae) == 4


def cut_first_shard(run: Path) -> Path:
    shard = sorted(RunDir(run).data.glob("train-*.tfrecord.gz"))[0]
    raw = gzip.decompress(shard.read_bytes())
    shard.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    return shard


def test_cut_shard_is_named_by_training_and_preview(run_copy):
    shard = cut_first_shard(run_copy)
    with pytest.raises(UserError, match=f"{shard}: damaged record file"):
        train_vae(run_copy, settings(6))
    with pytest.raises(UserError, match=f"{shard}: damaged record file"):
        preview.make_sheets(RunDir(run_copy).data)
    assert not (RunDir(run_copy).data / "preview").exists()


def test_steps_below_the_current_step_train_nothing(run_copy):
    before = ckpt_files(run_copy)
    train_vae(run_copy, settings(2))
    assert latest_step(RunDir(run_copy).vae) == 4
    assert ckpt_files(run_copy) == before


def test_refiner_after_extracting_at_another_size_is_one_line(trained, run_copy):
    from vaest.train.refiner import RefinerSettings, train_refiner

    options = Options(image_size=(48, 64), frame_stride=1, tiles_per_painting=2)
    plans = plan_domains([f"clip={trained / 'clip.mp4'}"], [f"art={trained / 'art'}"], options)
    extract(plans, options, run_copy, overwrite=True)
    with pytest.raises(ConfigMismatch, match="trained at 36x64 but .* holds 48x64"):
        train_refiner(run_copy, RefinerSettings(steps=2, batch_size=4))
    assert not RunDir(run_copy).refiner.exists()


def test_a_second_training_on_the_folder_is_refused(run_copy):
    from vaest.io.lock import FolderInUse, folder_lock

    before = ckpt_files(run_copy)
    with folder_lock(RunDir(run_copy).vae, "training"):
        with pytest.raises(FolderInUse, match=f"process {os.getpid()} on .* is training it"):
            train_vae(run_copy, settings(6))
    assert ckpt_files(run_copy) == before
