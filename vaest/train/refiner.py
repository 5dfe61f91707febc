"""Step 4: train the refiner on the frozen VAE's reconstructions, into RUN/refiner."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from vaest.data.pipeline import training_dataset
from vaest.data.records import damage_reported, load_manifest
from vaest.io.grid import rows_grid
from vaest.memory import require_batch_memory
from vaest.models.config import RefinerConfig, adversarial_retired
from vaest.models.vae import sum_squared_error, to_float_images
from vaest.run_dir import CONFIG, RunDir
from vaest.train.checkpoints import (
    latest_step,
    load_config,
    load_trained_vae,
    require_current_loss,
    require_image_size,
    require_untouched_config,
    save_config,
)
from vaest.train.cluster import is_chief, own_folder
from vaest.train.loop import Schedule, TrainingRun, TrainSettings, make_strategy
from vaest.train.refining import RefinerTrainer, style_term
from vaest.train.validation import HeldOut, preview_batch


@dataclass
class RefinerSettings(TrainSettings):
    steps: int = 5000
    batch_size: int = 16
    identity_warmup_steps: int = 0
    texture_weights: str = "auto"  # VGG16 weights for the style term (features.load_...)


def resolve_refiner_config(folder: Path, image_size, overrides: dict) -> RefinerConfig:
    """The config to train with: the saved one when resuming, checked against what was asked."""
    saved = None
    if latest_step(folder) is not None:
        require_untouched_config(folder)
        if (folder / CONFIG).exists():
            saved = load_config(RefinerConfig, folder)
            require_current_loss(folder, adversarial_retired)
    asked = dataclasses.replace(
        saved or RefinerConfig(image_size=tuple(image_size)), **overrides
    )  # fmt: skip
    if saved is not None:
        asked.require_same(saved, str(folder))
    return asked


def train_refiner(
    run_dir: str | Path, settings: RefinerSettings, overrides: dict | None = None
) -> dict:
    """Train (or resume) RUN/refiner to settings.steps; returns the final validation figures.

    One training at a time per folder (a lock); a damaged shard is a one-line error. In a
    multi-worker run only the chief writes RUN/refiner; it returns {} on the other workers."""
    run = RunDir(run_dir)
    with own_folder(run.refiner, settings.strategy) as folder, damage_reported(run.data):
        return _train_refiner(run_dir, folder, settings, overrides)


def _train_refiner(
    run_dir: str | Path, folder: Path, settings: RefinerSettings, overrides: dict | None = None
) -> dict:
    run = RunDir(run_dir)
    data_dir = run.data
    manifest = load_manifest(data_dir)
    strategy = make_strategy(settings.strategy, settings.cluster_timeout)
    with strategy.scope():
        vae, vae_step = load_trained_vae(run_dir)
        require_batch_memory(vae.config, settings.batch_size, gradients=False)
        require_image_size(vae.config, manifest.image_size, run.vae, data_dir)
        # The chief's config.json, when this worker can see it, is the one to resume with.
        config = resolve_refiner_config(run.refiner, vae.config.image_size, overrides or {})
        keras.utils.set_random_seed(settings.seed)
        style, style_offset = None, None
        if config.style_weight > 0:
            style, style_offset = style_term(
                vae, data_dir, manifest, config, settings.texture_weights
            )
        model = RefinerTrainer(vae, config, settings.identity_warmup_steps, style, style_offset)
        model(np.zeros((1, *config.image_size, 3), np.float32))
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
        model.optimizer.build(model.refiner.trainable_variables)
        items = {"refiner": model.refiner, "optimizer": model.optimizer}
    folder.mkdir(parents=True, exist_ok=True)
    save_config(config, folder)

    held_out = HeldOut(data_dir, manifest, settings.batch_size)

    @tf.function
    def evaluate_batch(images):
        x = to_float_images(images)
        return sum_squared_error(model.vae_output(x), x), sum_squared_error(model(x), x)

    def validate() -> dict[str, float]:
        columns, ids = held_out.score(evaluate_batch)
        if not len(ids):
            return {}
        vae_psnr, refined_psnr = (held_out.psnr(sse, ids) for sse in columns)
        figures = {}
        for name in vae_psnr:
            figures[f"psnr_vae/{name}"] = vae_psnr[name]
            figures[f"psnr_refined/{name}"] = refined_psnr[name]
            figures[f"psnr_gain/{name}"] = refined_psnr[name] - vae_psnr[name]
        return figures

    shown = preview_batch(data_dir, manifest)

    def preview() -> np.ndarray:
        x = to_float_images(tf.constant(shown))
        rows = [shown, model.vae_output(x).numpy(), model(x).numpy()]
        if model.style is not None:
            rows.append(model.stylized(x).numpy())  # what the style term shapes
        return rows_grid(rows)

    run = TrainingRun(
        "refiner",
        folder,
        model,
        items,
        Schedule.of(settings),
        validate,
        preview,
        chief=is_chief(settings.strategy),
    )
    start = run.restore(settings.learning_rate)
    logging.info(
        "refiner: on the VAE at step %d, %d parameters, step %d of %d",
        vae_step,
        model.refiner.count_params(),
        start,
        settings.steps,
    )

    def dataset_from(step: int):
        ds, mix = training_dataset(
            data_dir, manifest, settings.batch_size, seed=settings.seed, start_step=step
        )
        logging.info("refiner: domain mix: %s", mix.describe())
        return ds

    return run.train(dataset_from)
