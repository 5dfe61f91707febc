"""The residual refiner: sharpens the VAE's reconstruction back toward the original image.

Layout of the 2017 original: a 5x5 conv kept as a skip, a stride-2 5x5 conv, a 32/64/32 body, a
transposed conv back up, the skip added, and a conv to 3 channels. Here the last conv predicts a
correction added to the VAE image, so an untrained refiner starts as the identity.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from vaest.config import RefinerConfig
from vaest.vae import VAE, sum_squared_error, to_float_images


def gaussian_blur(images, sigma: float):
    """Separable Gaussian blur of [N,H,W,C] float images, reflecting at the borders."""
    radius = max(1, int(3 * sigma))
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(offsets / sigma))
    kernel = kernel / tf.reduce_sum(kernel)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    out = tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, vertical, [1, 1, 1, 1], "VALID")


def luminance(images):
    """Rec. 601 luma of [N,H,W,3] float images, keeping a channel axis."""
    weights = tf.constant([0.299, 0.587, 0.114], tf.float32)
    return tf.reduce_sum(images * weights, axis=-1, keepdims=True)


def structure_guide(images, config: RefinerConfig):
    """What the refiner sees of the frame's structure: its luminance detail, or None."""
    if config.guide == "none":
        return None
    luma = luminance(to_float_images(images))
    return luma - gaussian_blur(luma, config.guide_sigma)


def guide_channels(kind: str) -> int:
    return 0 if kind == "none" else 1


def build_refiner(config: RefinerConfig) -> keras.Model:
    """[N,H,W,3 + guide] -> refined images [N,H,W,3] in [0,1]."""
    height, width = config.image_size
    inputs = keras.Input((height, width, 3 + guide_channels(config.guide)), name="inputs")
    base = keras.layers.Lambda(lambda t: t[..., :3], name="vae_image")(inputs)
    act = config.activation
    skip = keras.layers.Conv2D(
        config.skip_filters, config.kernel, padding="same", activation=act, name="skip"
    )(inputs)
    x = keras.layers.Conv2D(
        config.down_filters, config.kernel, strides=2, padding="same", activation=act, name="down"
    )(skip)
    for i, filters in enumerate(config.body_filters):
        x = keras.layers.Conv2D(
            filters, config.body_kernel, padding="same", activation=act, name=f"body{i}"
        )(x)
    x = keras.layers.Conv2DTranspose(
        config.skip_filters, config.kernel, strides=2, padding="same", activation=act, name="up"
    )(x)
    x = keras.layers.Cropping2D(((0, x.shape[1] - height), (0, x.shape[2] - width)))(x)
    x = keras.layers.Add(name="skip_add")([x, skip])
    correction = keras.layers.Conv2D(
        3, config.kernel, padding="same", kernel_initializer="zeros", name="correction"
    )(x)
    refined = keras.layers.Add(name="residual")([base, correction])
    refined = keras.layers.Lambda(lambda t: tf.clip_by_value(t, 0.0, 1.0), name="clip")(refined)
    return keras.Model(inputs, refined, name="refiner")


def refiner_inputs(vae_images, frames, config: RefinerConfig, detail=1.0):
    """The refiner's input: the VAE image, plus the frame's structure guide scaled by `detail`
    (0 keeps none of the frame's structure, 1 all of it) when the refiner has a guide."""
    guide = structure_guide(frames, config)
    if guide is None:
        return vae_images
    return tf.concat([vae_images, detail * guide], axis=-1)


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
        """style: a vaest.style_loss.StyleLoss, with style_offset the latent offset of
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

    def train_step(self, images):
        cfg = self.config
        x = to_float_images(images)
        base = self.vae_output(x)
        values = float(x.shape[1] * x.shape[2] * 3)
        with tf.GradientTape() as tape:
            refined = self.refiner(refiner_inputs(base, x, cfg), training=True)
            reconstruction = sum_squared_error(refined, x)
            distance = sum_squared_error(refined, base)
            push = tf.nn.relu(cfg.push_margin * values - distance)
            task = cfg.reconstruction_weight * reconstruction + cfg.push_weight * push
            style = tf.zeros_like(task)
            if self.style is not None:
                style = self.style(self.stylized(x, training=True))
                task = task + cfg.style_weight * values * style
            warming = self.optimizer.iterations < self.identity_warmup_steps
            loss = tf.reduce_mean(tf.where(warming, distance, task))
        variables = self.refiner.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return {
            "loss": loss,
            "reconstruction": tf.reduce_mean(reconstruction),
            "push": tf.reduce_mean(push),
            "vae_reconstruction": tf.reduce_mean(sum_squared_error(base, x)),
            "style": tf.reduce_mean(style),
        }
