"""Training loop machinery shared by the VAE and the refiner.

Checkpoints with tf.train.CheckpointManager (resume at the saved step with the same optimizer
state), stop at a total step count, save on Ctrl-C, stop on a non-finite loss without touching the
last good checkpoint, TensorBoard scalars and preview images, validation at every save, and a
progress bar with the time left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tqdm import tqdm

from vaest.errors import TrainingDiverged
from vaest.io.imaging import save_image
from vaest.run_dir import LOGS, PREVIEWS, checkpoints


def make_strategy(name: str) -> tf.distribute.Strategy:
    """default: one device. mirrored: every GPU, or every logical CPU when there is no GPU.
    multi_worker: the machines named in TF_CONFIG."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be default, mirrored or multi_worker, not {name!r}")


@dataclass
class TrainSettings:
    """What both trainings take from their shared flags (vaest.cli.define_training_flags)."""

    steps: int = 10000  # total steps: training stops when the optimizer has made this many
    batch_size: int = 50
    learning_rate: float = 2e-4
    strategy: str = "default"
    save_every: int = 500
    preview_every: int = 250
    seed: int = 0


@dataclass
class Schedule:
    steps: int  # total steps: training stops when the optimizer has made this many
    batch_size: int
    save_every: int = 500
    preview_every: int = 250
    log_every: int = 10

    @classmethod
    def of(cls, settings) -> Schedule:
        """The schedule a trainer's settings ask for."""
        return cls(settings.steps, settings.batch_size, settings.save_every, settings.preview_every)


class _Monitor(keras.callbacks.Callback):
    """Per-step bookkeeping inside model.fit."""

    def __init__(self, run: TrainingRun, start: int):
        super().__init__()
        self.run = run
        self.start = start
        self.bad_step: int | None = None
        self.last_time = time.perf_counter()
        self.images_per_second = 0.0
        sched = run.schedule
        self.bar = tqdm(
            total=sched.steps, initial=start, unit="step", desc=run.name, dynamic_ncols=True
        )

    def on_train_batch_end(self, batch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        step = int(self.model.optimizer.iterations.numpy())
        if not all(math.isfinite(v) for v in logs.values()):
            self.bad_step = step
            self.model.stop_training = True
            return
        now = time.perf_counter()
        rate = self.run.schedule.batch_size / max(now - self.last_time, 1e-9)
        self.last_time = now
        self.images_per_second = (
            rate if step == self.start + 1 else 0.9 * self.images_per_second + 0.1 * rate
        )
        self.bar.update(1)
        self.bar.set_postfix(
            loss=f"{logs.get('loss', 0):.4g}", img_s=f"{self.images_per_second:.1f}"
        )
        sched = self.run.schedule
        if step % sched.log_every == 0 or step == sched.steps:
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.run.log_scalars(
                step,
                {**logs, "learning_rate": lr, "images_per_second": self.images_per_second},
                "train",
            )
        if step % sched.save_every == 0 and step != sched.steps:
            self.run.save_and_validate(step)
        if step % sched.preview_every == 0 and step != sched.steps:
            self.run.preview(step)

    def close(self):
        self.bar.close()


class TrainingRun:
    """One model's training folder: checkpoints/, logs/, previews/ and config.json."""

    def __init__(
        self,
        name: str,
        folder: str | Path,
        model: keras.Model,
        checkpoint_items: dict,
        schedule: Schedule,
        validate: Callable[[], dict[str, float]],
        preview: Callable[[], np.ndarray],
    ):
        self.name = name
        self.folder = Path(folder)
        self.model = model
        self.schedule = schedule
        self._validate = validate
        self._preview = preview
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / PREVIEWS).mkdir(exist_ok=True)
        self.checkpoint = tf.train.Checkpoint(**checkpoint_items)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoints(self.folder)), max_to_keep=3
        )
        self.writer = tf.summary.create_file_writer(str(self.folder / LOGS))

    @property
    def step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def restore(self, learning_rate: float) -> int:
        """Load the newest checkpoint if there is one; returns the step training resumes at.

        The checkpoint holds the old learning rate: the one asked for now wins."""
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(
                self.manager.latest_checkpoint
            ).assert_existing_objects_matched()
            logging.info(
                "%s: resumed from %s at step %d",
                self.name,
                self.manager.latest_checkpoint,
                self.step,
            )
        self.model.optimizer.learning_rate = learning_rate
        return self.step

    def log_scalars(self, step: int, values: dict[str, float], prefix: str) -> None:
        with self.writer.as_default(step=step):
            for key, value in values.items():
                tf.summary.scalar(f"{prefix}/{key}", value)

    def save_and_validate(self, step: int) -> dict[str, float]:
        path = self.manager.save(checkpoint_number=step)
        figures = self._validate()
        self.log_scalars(step, figures, "validation")
        self.writer.flush()
        shown = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        tqdm.write(f"{self.name} step {step}: saved {path}; validation {shown}")
        return figures

    def preview(self, step: int) -> Path:
        grid = self._preview()
        path = self.folder / PREVIEWS / f"step-{step:07d}.png"
        save_image(grid, path)
        with self.writer.as_default(step=step):
            tf.summary.image("preview", grid[None], max_outputs=1)
        return path

    def train(self, dataset_from: Callable[[int], tf.data.Dataset]) -> dict[str, float]:
        """Train from the current step to schedule.steps; returns the final validation figures."""
        start = self.step
        if start >= self.schedule.steps:
            logging.info(
                "%s: already at step %d of %d; nothing to train",
                self.name,
                start,
                self.schedule.steps,
            )
            return self._validate()
        monitor = _Monitor(self, start)
        try:
            self.model.fit(
                dataset_from(start),
                epochs=1,
                steps_per_epoch=self.schedule.steps - start,
                callbacks=[monitor],
                shuffle=False,  # the dataset shuffles itself, reproducibly
                verbose=0,
            )
        except KeyboardInterrupt:
            monitor.close()
            if monitor.bad_step is None:
                path = self.manager.save(checkpoint_number=self.step)
                print(f"\ninterrupted: saved {path} at step {self.step}; run again to resume")
            raise
        monitor.close()
        if monitor.bad_step is not None:
            kept = self.manager.latest_checkpoint or "none yet"
            raise TrainingDiverged(
                f"{self.name}: the loss became NaN or infinite at step {monitor.bad_step}; stopped "
                f"without saving (last good checkpoint: {kept})"
            )
        figures = self.save_and_validate(self.step)
        self.preview(self.step)
        return figures
