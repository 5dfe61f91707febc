"""A conditional patch discriminator, its R1 penalty and its losses: the adversary of the VAEGAN.

The refiner's pixel and texture losses let it stay blurry or merely recoloured; a discriminator
that judges small patches (PatchGAN, Isola et al. 2017) pushes it toward the local look of brush
strokes, which is what "painted" means at the scale the refiner works on.

One model serves several painting domains through a projection (Miyato & Koyama 2018): with
phi(x) the patch features, the logit of each patch is psi(phi(x)) + <embed(y), phi(x)>, y being the
integer domain id. There is no batch norm, so patches of different images never interact and the
R1 penalty is a per-image quantity.

Optionally the image is judged at several scales (pix2pixHD, Wang et al. 2018): scale s sees the
image average-pooled by 2**s through its own convolutions, so coarser strokes are judged too.
With `scales` > 1 the model returns a list of logit maps, finest first; every function here takes
either one map or such a list and weighs the scales equally.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

LEAKY_SLOPE = 0.2


@keras.saving.register_keras_serializable(package="vaest")
class ProjectionHead(keras.layers.Layer):
    """Patch logits from features [N,h,w,C] and domain ids [N]: [N,h,w].

    psi is linear, psi(phi) = <w, phi> + b, so the conditional logit is <w + embed(y), phi> + b.
    """

    def __init__(self, domains: int, **kwargs):
        super().__init__(**kwargs)
        self.domains = domains

    def build(self, input_shape):
        channels = input_shape[0][-1]
        self.psi_kernel = self.add_weight(
            shape=(channels,), initializer="glorot_uniform", name="psi_kernel"
        )
        self.psi_bias = self.add_weight(shape=(), initializer="zeros", name="psi_bias")
        self.domain_embedding = self.add_weight(
            shape=(self.domains, channels), initializer="glorot_uniform", name="domain_embedding"
        )

    def call(self, inputs):
        features, domain_ids = inputs
        embedded = ops.take(self.domain_embedding, ops.cast(domain_ids, "int32"), axis=0)
        direction = self.psi_kernel + embedded
        return ops.einsum("nhwc,nc->nhw", features, direction) + self.psi_bias

    def get_config(self):
        return {**super().get_config(), "domains": self.domains}


def build_discriminator(
    image_size: tuple[int, int],
    domains: int,
    filters: tuple[int, ...] = (32, 64, 128),
    kernel: int = 4,
    scales: int = 1,
) -> keras.Model:
    """[images [N,H,W,3] in [0,1], domain ids int32 [N]] -> patch logits [N,H/2^k,W/2^k].

    k = len(filters) stride-2 convolutions, each followed by LeakyReLU(0.2). With `scales` > 1,
    a list of such maps, one per scale, each from its own convolutions.
    """
    if domains < 1 or scales < 1 or not filters:
        raise ValueError(f"need domains >= 1, scales >= 1 and filters; got {domains}, {scales}")
    height, width = image_size
    images = keras.Input((height, width, 3), name="images")
    domain_ids = keras.Input((), dtype="int32", name="domain_ids")
    signed = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    logits = []
    for scale in range(scales):
        x = signed
        if scale:
            x = keras.layers.AveragePooling2D(2**scale, name=f"scale{scale}_pool")(x)
        for index, count in enumerate(filters):
            x = keras.layers.Conv2D(
                count, kernel, strides=2, padding="same", name=f"scale{scale}_down{index}"
            )(x)
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"scale{scale}_act{index}")(x)
        logits.append(ProjectionHead(domains, name=f"scale{scale}_logits")([x, domain_ids]))
    outputs = logits[0] if scales == 1 else logits
    return keras.Model([images, domain_ids], outputs, name="patch_discriminator")


def per_scale(logits) -> list:
    """One logit map or a list of them -> a list of them."""
    return list(logits) if isinstance(logits, list | tuple) else [logits]


def _mean_over_scales(per_map, *maps):
    values = [
        per_map(*scale_maps) for scale_maps in zip(*(per_scale(m) for m in maps), strict=True)
    ]
    return tf.add_n(values) / len(values)


def hinge_discriminator_loss(real_logits, fake_logits):
    """mean(relu(1 - D(real))) + mean(relu(1 + D(fake))), means over images and patches."""
    return _mean_over_scales(
        lambda real, fake: (
            tf.reduce_mean(tf.nn.relu(1.0 - real)) + tf.reduce_mean(tf.nn.relu(1.0 + fake))
        ),
        real_logits,
        fake_logits,
    )


def hinge_generator_loss(fake_logits):
    """-mean(D(fake)): the generator raises the logits of its patches without bound."""
    return _mean_over_scales(lambda fake: -tf.reduce_mean(fake), fake_logits)


def non_saturating_discriminator_loss(real_logits, fake_logits):
    """mean(softplus(-D(real))) + mean(softplus(D(fake))): binary cross-entropy on the logits."""
    return _mean_over_scales(
        lambda real, fake: (
            tf.reduce_mean(tf.nn.softplus(-real)) + tf.reduce_mean(tf.nn.softplus(fake))
        ),
        real_logits,
        fake_logits,
    )


def non_saturating_generator_loss(fake_logits):
    """mean(softplus(-D(fake))) = -mean(log sigmoid(D(fake))) (Goodfellow et al. 2014)."""
    return _mean_over_scales(lambda fake: tf.reduce_mean(tf.nn.softplus(-fake)), fake_logits)


def patch_accuracy(real_logits, fake_logits):
    """Share of patches judged right, (share of real > 0 + share of fake < 0) / 2.

    Halving weighs real and fake equally; a discriminator that cannot tell them apart (every
    logit of one sign, or chance) scores 0.5.
    """

    def accuracy(real, fake):
        real_right = tf.reduce_mean(tf.cast(real > 0, tf.float32))
        fake_right = tf.reduce_mean(tf.cast(fake < 0, tf.float32))
        return (real_right + fake_right) / 2

    return _mean_over_scales(accuracy, real_logits, fake_logits)


def r1_penalty(discriminator, real_images, domain_ids):
    """R1 (Mescheder et al. 2018): mean over images of ||d(sum of patch logits) / d image||^2.

    The gradient is taken with respect to the images as given, in [0, 1]. Added to the
    discriminator's loss as gamma / 2 * r1_penalty; called inside the tape that differentiates
    that loss, it is differentiated in turn (the penalty's gradient needs second derivatives).
    Summing over patches makes the penalty grow with the number of patches: choose gamma for the
    image size (0.01 keeps a 32x48 discriminator smooth and still lets it learn).
    `discriminator` is called as discriminator([images, domain_ids]).
    """
    real_images = tf.convert_to_tensor(real_images, tf.float32)
    domain_ids = tf.convert_to_tensor(domain_ids, tf.int32)
    with tf.GradientTape() as tape:
        tape.watch(real_images)
        logits = per_scale(discriminator([real_images, domain_ids]))
        total = tf.add_n([tf.reduce_sum(scale_logits) for scale_logits in logits])
    gradients = tape.gradient(
        total, real_images, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))
