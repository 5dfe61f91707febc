"""Step 3: train the VAE on RUN/data into RUN/vae."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from vaest.data.pipeline import training_dataset
from vaest.data.records import Manifest, damage_reported, load_manifest
from vaest.io.grid import rows_grid
from vaest.memory import require_batch_memory
from vaest.models.config import VaeConfig
from vaest.models.vae import VAE, kl_to_prior, sum_squared_error, to_float_images
from vaest.run_dir import CONFIG, RunDir
from vaest.train.checkpoints import (
    latest_step,
    load_config,
    require_image_size,
    require_untouched_config,
    save_config,
)
from vaest.train.cluster import is_chief, own_folder
from vaest.train.loop import Schedule, TrainingRun, TrainSettings, make_strategy
from vaest.train.validation import HeldOut, preview_batch


@dataclass
class VaeSettings(TrainSettings):
    kl_warmup_steps: int = 0
    domains: list[str] | None = None
    flip: bool = True


def resolve_config(folder: Path, manifest: Manifest, overrides: dict) -> VaeConfig:
    """The config to train with: the saved one when resuming, checked against what was asked."""
    has_checkpoint = latest_step(folder) is not None
    if has_checkpoint:
        require_untouched_config(folder)
    saved = (
        load_config(VaeConfig, folder) if has_checkpoint and (folder / CONFIG).exists() else None
    )
    base = saved or VaeConfig(image_size=tuple(manifest.image_size))
    asked = dataclasses.replace(base, **overrides)
    require_image_size(asked, manifest.image_size, folder, folder.parent / "data")
    if saved is not None:
        asked.require_same(saved, str(folder))
    return asked


def build_vae(config: VaeConfig, settings: VaeSettings, strategy) -> VAE:
    with strategy.scope():
        keras.utils.set_random_seed(settings.seed)
        model = VAE(config, seed=settings.seed, kl_warmup_steps=settings.kl_warmup_steps)
        model(np.zeros((1, *config.image_size, 3), np.float32))
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
        model.optimizer.build(model.trainable_variables)
    return model


def train_vae(run_dir: str | Path, settings: VaeSettings, overrides: dict | None = None) -> dict:
    """Train (or resume) RUN/vae to settings.steps; returns the final validation figures.

    One training at a time per folder (a lock); a damaged shard is a one-line error. In a
    multi-worker run only the chief writes RUN/vae; it returns {} on the other workers."""
    run = RunDir(run_dir)
    with own_folder(run.vae, settings.strategy) as folder, damage_reported(run.data):
        return _train_vae(run_dir, folder, settings, overrides or {})


def _train_vae(run_dir: str | Path, folder: Path, settings: VaeSettings, overrides: dict) -> dict:
    run = RunDir(run_dir)
    data_dir = run.data
    manifest = load_manifest(data_dir)
    # The chief's config.json, when this worker can see it, is the one to resume with.
    config = resolve_config(run.vae, manifest, overrides or {})
    require_batch_memory(config, settings.batch_size)
    strategy = make_strategy(settings.strategy, settings.cluster_timeout)
    model = build_vae(config, settings, strategy)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(config, folder)

    held_out = HeldOut(data_dir, manifest, settings.batch_size)

    @tf.function
    def evaluate_batch(images):
        mean, log_variance = model.encoder(to_float_images(images), training=False)
        reconstruction = model.decoder(mean, training=False)
        return sum_squared_error(to_float_images(images), reconstruction), kl_to_prior(
            mean, log_variance
        )

    def validate() -> dict[str, float]:
        columns, ids = held_out.score(evaluate_batch)
        if not len(ids):
            return {}
        sse, kl = columns
        figures = {"loss": float(np.mean(sse + config.beta * kl))}
        for name, psnr in held_out.psnr(sse, ids).items():
            figures[f"psnr/{name}"] = psnr
        return figures

    shown = preview_batch(data_dir, manifest)

    def preview() -> np.ndarray:
        if not len(shown):
            return rows_grid([np.zeros((1, *config.image_size, 3), np.uint8)])
        return rows_grid([shown, model(shown, training=False).numpy()])

    run = TrainingRun(
        "vae",
        folder,
        model,
        {"model": model, "optimizer": model.optimizer},
        Schedule.of(settings),
        validate,
        preview,
        chief=is_chief(settings.strategy),
    )
    start = run.restore(settings.learning_rate)

    def dataset_from(step: int):
        ds, mix = training_dataset(
            data_dir,
            manifest,
            settings.batch_size,
            settings.domains,
            seed=settings.seed,
            flip=settings.flip,
            start_step=step,
        )
        logging.info("vae: domain mix: %s", mix.describe())
        return ds

    logging.info(
        "vae: %s, %d parameters, %s on %d device(s), step %d of %d",
        "x".join(map(str, config.image_size)),
        model.count_params(),
        settings.strategy,
        strategy.num_replicas_in_sync,
        start,
        settings.steps,
    )
    return run.train(dataset_from)
