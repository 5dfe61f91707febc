"""Reading trained models back: the newest checkpoint of RUN/vae and RUN/refiner, for inference.

Shared by the refiner's training (which needs the frozen VAE) and the export, so that neither
imports a trainer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from vaest.errors import MissingStep
from vaest.models.config import RefinerConfig, VaeConfig
from vaest.models.refiner import build_refiner
from vaest.models.vae import VAE
from vaest.run_dir import CONFIG, RunDir, checkpoints


def save_config(config, folder: str | Path) -> Path:
    """Write folder/config.json atomically."""
    path = Path(folder) / CONFIG
    tmp = path.with_name(f".{CONFIG}.tmp")
    tmp.write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    tmp.replace(path)
    return path


def load_config(cls, folder: str | Path):
    """The config of class cls saved in folder/config.json."""
    return cls.from_dict(json.loads((Path(folder) / CONFIG).read_text()))


def latest_step(folder: str | Path) -> int | None:
    """The step of the newest checkpoint in a model folder, or None."""
    path = tf.train.latest_checkpoint(str(checkpoints(folder)))
    return None if path is None else int(path.rsplit("-", 1)[1])


def load_trained_vae(run_dir: str | Path) -> tuple[VAE, int]:
    """The VAE of RUN/vae at its newest checkpoint, for inference; returns (model, step)."""
    folder = RunDir(run_dir).vae
    step = latest_step(folder)
    if step is None or not (folder / CONFIG).exists():
        raise MissingStep(
            f"no trained VAE in {folder} (no checkpoint or config.json): "
            f"run `python train_vae.py --run_dir {run_dir}` first"
        )
    config = load_config(VaeConfig, folder)
    model = VAE(config)
    model(np.zeros((1, *config.image_size, 3), np.float32))
    checkpoint = tf.train.Checkpoint(model=model)
    checkpoint.restore(tf.train.latest_checkpoint(str(checkpoints(folder)))).expect_partial()
    return model, step


def load_trained_refiner(run_dir: str | Path):
    """The refiner network of RUN/refiner at its newest checkpoint, or None when there is none."""
    folder = RunDir(run_dir).refiner
    step = latest_step(folder)
    if step is None or not (folder / CONFIG).exists():
        return None, None, None
    config = load_config(RefinerConfig, folder)
    refiner = build_refiner(config)
    checkpoint = tf.train.Checkpoint(refiner=refiner)
    checkpoint.restore(tf.train.latest_checkpoint(str(checkpoints(folder)))).expect_partial()
    return refiner, config, step
