"""Step 3: train the VAE on RUN/data into RUN/vae."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from vaest.checkpoints import latest_step
from vaest.config import ModelConfig
from vaest.errors import ConfigMismatch
from vaest.grid import rows_grid
from vaest.pipeline import training_dataset, validation_dataset
from vaest.records import Manifest, load_manifest
from vaest.run_dir import CONFIG, RunDir
from vaest.training import Schedule, TrainingRun, make_strategy
from vaest.vae import VAE, kl_to_prior, sum_squared_error, to_float_images
from vaest.validation import preview_batch, psnr_by_domain


@dataclass
class VaeSettings:
    steps: int = 10000
    batch_size: int = 50
    learning_rate: float = 2e-4
    kl_warmup_steps: int = 0
    domains: list[str] | None = None
    strategy: str = "default"
    save_every: int = 500
    preview_every: int = 250
    seed: int = 0
    flip: bool = True


def resolve_config(folder: Path, manifest: Manifest, overrides: dict) -> ModelConfig:
    """The config to train with: the saved one when resuming, checked against what was asked."""
    has_checkpoint = latest_step(folder) is not None
    saved = ModelConfig.load(folder) if has_checkpoint and (folder / CONFIG).exists() else None
    base = saved or ModelConfig(image_size=tuple(manifest.image_size))
    asked = dataclasses.replace(base, **overrides)
    if asked.image_size != tuple(manifest.image_size):
        raise ConfigMismatch(
            f"{folder} was trained at {asked.image_size[0]}x{asked.image_size[1]} but the data is "
            f"{manifest.image_size[0]}x{manifest.image_size[1]}: use another --run_dir"
        )
    if saved is not None:
        asked.require_same(saved, str(folder))
    return asked


def build_vae(config: ModelConfig, settings: VaeSettings, strategy) -> VAE:
    with strategy.scope():
        keras.utils.set_random_seed(settings.seed)
        model = VAE(config, seed=settings.seed, kl_warmup_steps=settings.kl_warmup_steps)
        model(np.zeros((1, *config.image_size, 3), np.float32))
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
        model.optimizer.build(model.trainable_variables)
    return model


def train_vae(run_dir: str | Path, settings: VaeSettings, overrides: dict | None = None) -> dict:
    """Train (or resume) RUN/vae to settings.steps; returns the final validation figures."""
    run = RunDir(run_dir)
    data_dir = run.data
    manifest = load_manifest(data_dir)
    folder = run.vae
    config = resolve_config(folder, manifest, overrides or {})
    strategy = make_strategy(settings.strategy)
    model = build_vae(config, settings, strategy)
    folder.mkdir(parents=True, exist_ok=True)
    config.save(folder)

    names = {d.id: d.name for d in manifest.domains}
    pixels = int(np.prod(config.image_size)) * 3
    val = validation_dataset(data_dir, manifest, settings.batch_size)

    @tf.function
    def evaluate_batch(images):
        mean, log_variance = model.encoder(to_float_images(images), training=False)
        reconstruction = model.decoder(mean, training=False)
        return sum_squared_error(to_float_images(images), reconstruction), kl_to_prior(
            mean, log_variance
        )

    def validate() -> dict[str, float]:
        sse, kl, ids = [], [], []
        for images, domain_ids in val:
            batch_sse, batch_kl = (t.numpy() for t in evaluate_batch(images))
            sse.extend(batch_sse)
            kl.extend(batch_kl)
            ids.extend(domain_ids.numpy())
        if not sse:
            return {}
        figures = {"loss": float(np.mean(np.asarray(sse) + config.beta * np.asarray(kl)))}
        for name, psnr in psnr_by_domain(sse, ids, names, pixels).items():
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
        Schedule(settings.steps, settings.batch_size, settings.save_every, settings.preview_every),
        validate,
        preview,
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
