"""Training loop machinery shared by the VAE, the refiner and the painter.

Checkpoints with tf.train.CheckpointManager (resume at the saved step with the same optimizer
state), stop at a total step count, save on Ctrl-C, stop on a non-finite loss, weight or
validation figure without touching the last good checkpoint, TensorBoard scalars and preview
images, validation at every save, and a progress bar with the time left.
"""

from __future__ import annotations

import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tqdm import tqdm

from vaest.errors import ConfigMismatch, Terminated, TrainingDiverged, UserError
from vaest.io.atomic import disk_full
from vaest.io.imaging import save_image
from vaest.run_dir import CONFIG, LOGS, PREVIEWS, checkpoints
from vaest.train.checkpoints import (
    checkpoints_on_disk,
    newest_good_checkpoint,
    non_finite,
    require_untouched_config,
)
from vaest.train.cluster import (
    MULTI_WORKER,
    broadcast_from_first_replica,
    for_multi_worker,
    multi_worker_strategy,
)

SHARD_BY_DATA = tf.data.experimental.AutoShardPolicy.DATA


CLUSTER_TIMEOUT = 600.0  # seconds a multi-worker run waits for every worker


def make_strategy(name: str, cluster_timeout: float = CLUSTER_TIMEOUT) -> tf.distribute.Strategy:
    """default: one device. mirrored: every GPU, or every logical CPU when there is no GPU.
    multi_worker: the machines named in TF_CONFIG, waited for up to cluster_timeout seconds."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        return multi_worker_strategy(cluster_timeout)
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
    overwrite: bool = False  # start afresh over checkpoints that cannot be resumed
    cluster_timeout: float = CLUSTER_TIMEOUT  # multi_worker: seconds to wait for every worker
    minutes: float = 0.0  # a time budget for this call: training stops after it; 0: none

    def __post_init__(self):
        """Checked before any work, so that a bad flag costs nothing."""
        if not (math.isfinite(self.minutes) and self.minutes >= 0):
            raise UserError(f"--minutes must be 0 (no budget) or more, not {self.minutes}")
        if self.steps < 0:
            raise UserError(f"--steps must not be negative, not {self.steps}")
        for name in ("batch_size", "save_every", "preview_every"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name} must be at least 1, not {getattr(self, name)}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise UserError(f"--learning_rate must be positive, not {self.learning_rate}")
        if not (math.isfinite(self.cluster_timeout) and self.cluster_timeout > 0):
            raise UserError(f"--cluster_timeout must be positive, not {self.cluster_timeout}")


@dataclass
class Schedule:
    steps: int  # total steps: training stops when the optimizer has made this many
    batch_size: int
    save_every: int = 500
    preview_every: int = 250
    log_every: int = 10
    overwrite: bool = False  # start afresh over checkpoints of which none is complete
    minutes: float = 0.0  # stop (and save) after this many minutes of training; 0: no budget

    @classmethod
    def of(cls, settings) -> Schedule:
        """The schedule a trainer's settings ask for."""
        names = ("steps", "batch_size", "save_every", "preview_every", "overwrite", "minutes")
        return cls(**{name: getattr(settings, name) for name in names})


STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


@contextmanager
def interrupts_deferred(act_after: bool = True) -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a checkpoint is written, so that a second signal cannot cut
    the save short; one during it takes effect afterwards (act_after) or is dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []

    def note(signum, frame):
        pressed.append(signum)
        name = STOP_SIGNALS[signum]
        print(f"\n{name}: finishing the checkpoint first", file=sys.stderr, flush=True)

    previous = {signum: signal.signal(signum, note) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if pressed and act_after:
        raise Terminated if signal.SIGTERM in pressed else KeyboardInterrupt


class _Monitor(keras.callbacks.Callback):
    """Per-step bookkeeping inside model.fit."""

    def __init__(self, run: TrainingRun, start: int):
        super().__init__()
        self.run = run
        self.start = start
        self.bad_step: int | None = None
        self.last_time = self.started = time.perf_counter()
        self.images_per_second = 0.0
        sched = run.schedule
        self.bar = tqdm(
            total=sched.steps, initial=start, unit="step", desc=run.name, dynamic_ncols=True
        )

    def on_train_batch_end(self, batch, logs=None):
        # A multi-worker run's logs are [1] vectors (cluster.for_multi_worker): numpy 2 converts
        # only 0-d arrays with float().
        logs = {k: float(np.mean(v)) for k, v in (logs or {}).items()}
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
        sched = self.run.schedule
        postfix = {"loss": f"{logs.get('loss', 0):.4g}", "img_s": f"{self.images_per_second:.1f}"}
        if sched.minutes:  # the budget, not the step bound, usually ends the run: its time left
            left = max(0.0, 60.0 * sched.minutes - (now - self.started))
            postfix["budget_left"] = f"{left / 60:.1f}min"
        self.bar.set_postfix(postfix)
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
        if sched.minutes and now - self.started >= 60.0 * sched.minutes:
            self.model.stop_training = True  # train() saves and validates at this step

    def close(self):
        self.bar.close()


class TrainingRun:
    """One model's training folder: checkpoints/, logs/, previews/ and config.json.

    chief=False (a multi-worker run's other workers): the folder is a temporary one, and
    validation and previews are left to the chief."""

    def __init__(
        self,
        name: str,
        folder: str | Path,
        model: keras.Model,
        checkpoint_items: dict,
        schedule: Schedule,
        validate: Callable[[], dict[str, float]],
        preview: Callable[[], np.ndarray],
        chief: bool = True,
    ):
        self.name = name
        self.chief = chief
        self.folder = Path(folder)
        self.model = model
        self.schedule = schedule
        self._validate = validate
        self._preview = preview
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / PREVIEWS).mkdir(exist_ok=True)
        self._items = checkpoint_items
        self.checkpoint = tf.train.Checkpoint(**checkpoint_items)
        self._recover_checkpoints()
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoints(self.folder)), max_to_keep=3
        )
        self.writer = tf.summary.create_file_writer(str(self.folder / LOGS))

    def _recover_checkpoints(self) -> None:
        """Point the index at the newest complete checkpoint (warning about damaged ones, a
        missing index, left-over partial saves); refuse to start afresh over trained weights."""
        directory = checkpoints(self.folder)
        for partial in directory.glob("ckpt-*_temp*"):
            logging.warning("removing %s, a save that did not finish", partial)
            shutil.rmtree(partial, ignore_errors=True)
        if newest_good_checkpoint(self.folder, repair=True) is not None:
            return
        found = checkpoints_on_disk(self.folder)
        if found and not self.schedule.overwrite:
            raise UserError(
                f"{directory} holds checkpoints ({', '.join(p.name for p in found)}) but none is "
                "complete: run again with --overwrite to start afresh over them"
            )
        for prefix in found:
            for path in directory.glob(f"{prefix.name}.*"):
                path.unlink()
        (directory / "checkpoint").unlink(missing_ok=True)

    def diverged(self, what: str, step: int) -> TrainingDiverged:
        kept = self.manager.latest_checkpoint or "none yet"
        return TrainingDiverged(
            f"{self.name}: the {what} became NaN or infinite at step {step}; stopped without "
            f"saving (last good checkpoint: {kept})"
        )

    def save(self, step: int, act_on_interrupt: bool = True) -> str:
        """Write checkpoint `step` whole, whatever Ctrl-C does meanwhile; a full disk is an
        OSError naming the checkpoint, with the partial save removed. Weights that are not
        finite are never saved: a finite loss can still be followed by an update to NaN (a
        huge weight overflows the gradient)."""
        variables = [v for item in self._items.values() for v in item.variables]
        bad = non_finite((getattr(v, "path", v.name), v.numpy()) for v in variables)
        if bad is not None:
            raise self.diverged(f"weight {bad}", step)
        with interrupts_deferred(act_on_interrupt):
            try:
                path = self.manager.save(checkpoint_number=step)
            except (tf.errors.OpError, OSError) as err:
                for partial in checkpoints(self.folder).glob(f"ckpt-{step}_temp*"):
                    shutil.rmtree(partial, ignore_errors=True)
                full = disk_full(err, checkpoints(self.folder) / f"ckpt-{step}")
                if full is not None:
                    raise full from None
                raise
            # The config the checkpoints belong to, kept beside them (checkpoints.py checks it).
            if (self.folder / CONFIG).exists():
                copy = checkpoints(self.folder) / f".{CONFIG}.tmp"
                shutil.copyfile(self.folder / CONFIG, copy)
                copy.replace(checkpoints(self.folder) / CONFIG)
        return path

    @property
    def step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def restore(self, learning_rate: float) -> int:
        """Load the newest checkpoint if there is one; returns the step training resumes at.

        The checkpoint holds the old learning rate: the one asked for now wins."""
        latest = self.manager.latest_checkpoint
        if latest:
            require_untouched_config(self.folder)
            try:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
            except (ValueError, AssertionError) as err:
                raise ConfigMismatch(
                    f"{latest} does not fit the model config.json "
                    f"describes ({str(err).strip().splitlines()[0][:200]})"
                ) from None
            logging.info("%s: resumed from %s at step %d", self.name, latest, self.step)
        strategy = self.model.distribute_strategy
        if isinstance(strategy, MULTI_WORKER):  # only the chief has read a checkpoint
            variables = [v for item in self._items.values() for v in item.variables]
            broadcast_from_first_replica(strategy, variables)
        self.model.optimizer.learning_rate = learning_rate
        return self.step

    def log_scalars(self, step: int, values: dict[str, float], prefix: str) -> None:
        with self.writer.as_default(step=step):
            for key, value in values.items():
                tf.summary.scalar(f"{prefix}/{key}", value)

    def validate(self, step: int) -> dict[str, float]:
        """The validation figures, refused (never logged) when one is not finite."""
        figures = self._validate()
        bad = non_finite(figures.items())
        if bad is not None:
            raise self.diverged(f"validation figure {bad}", step)
        return figures

    def save_and_validate(self, step: int) -> dict[str, float]:
        path = self.save(step)
        if not self.chief:
            return {}
        figures = self.validate(step)
        self.log_scalars(step, figures, "validation")
        self.writer.flush()
        shown = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        tqdm.write(f"{self.name} step {step}: saved {path}; validation {shown}")
        return figures

    def preview(self, step: int) -> Path | None:
        if not self.chief:
            return None
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
            steps = self.schedule.steps
            logging.info("%s: already at step %d of %d; nothing to train", self.name, start, steps)
            return self.validate(start) if self.chief else {}
        # Every worker reads the same global batches and keeps its share of each (DATA
        # sharding): a multi-worker run sees what one worker at the same batch size sees.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = SHARD_BY_DATA
        batches, steps = dataset_from(start).with_options(options), self.schedule.steps - start
        strategy = self.model.distribute_strategy
        if isinstance(strategy, (tf.distribute.MirroredStrategy, MULTI_WORKER)):
            # A finite dataset, not steps_per_epoch: under a strategy Keras builds the model
            # from a batch of the iterator it then trains from, and that batch would be lost.
            # On one device steps_per_epoch is kept: ending a finite dataset costs up to a
            # minute of tf.data teardown per call.
            batches, steps = batches.take(steps), None
        if isinstance(strategy, MULTI_WORKER):
            batches = for_multi_worker(self.model, batches)
        monitor = _Monitor(self, start)
        try:
            self.model.fit(
                batches,
                epochs=1,
                steps_per_epoch=steps,
                callbacks=[monitor],
                shuffle=False,  # the dataset shuffles itself, reproducibly
                verbose=0,
            )
        except TrainingDiverged:  # a periodic save or validation refused
            monitor.close()
            raise
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (vaest.cli)
            monitor.close()
            if monitor.bad_step is None:
                path = self.save(self.step, act_on_interrupt=False)
                how = "terminated" if isinstance(stop, Terminated) else "interrupted"
                print(f"\n{how}: saved {path} at step {self.step}; run again to resume")
            raise
        monitor.close()
        if monitor.bad_step is not None:
            raise self.diverged("loss", monitor.bad_step)
        figures = self.save_and_validate(self.step)
        self.preview(self.step)
        return figures
