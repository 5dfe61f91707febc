"""The residual refiner: sharpens the VAE's reconstruction back toward the original image.

Layout of the 2017 original: a 5x5 conv kept as a skip, a stride-2 5x5 conv, a 32/64/32 body, a
transposed conv back up, the skip added, and a conv to 3 channels. Here the last conv predicts a
correction added to the VAE image, so an untrained refiner starts as the identity.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from vaest.models.config import RefinerConfig
from vaest.models.vae import to_float_images


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
