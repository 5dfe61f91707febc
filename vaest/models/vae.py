"""The convolutional VAE: 6 stride-2 convolutions down to a 512-wide diagonal normal, and back."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from vaest.models.config import VaeConfig

tfd = tfp.distributions


def _normalize_and_activate(x, config: VaeConfig, name: str):
    if config.normalization == "batch":
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation(config.activation, name=f"{name}_act")(x)


def build_encoder(config: VaeConfig) -> keras.Model:
    """images float [N,H,W,3] in [0,1] -> (mean, log_variance), each [N, latent_dim]."""
    images = keras.Input((*config.image_size, 3), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    use_bias = config.normalization == "none"
    for i, (filters, kernel) in enumerate(zip(config.filters, config.kernels, strict=True)):
        x = keras.layers.Conv2D(
            filters, kernel, strides=2, padding="same", use_bias=use_bias, name=f"enc{i}"
        )(x)
        x = _normalize_and_activate(x, config, f"enc{i}")
    x = keras.layers.Flatten(name="flatten")(x)
    mean = keras.layers.Dense(config.latent_dim, name="mean")(x)
    log_variance = keras.layers.Dense(config.latent_dim, name="log_variance")(x)
    return keras.Model(images, [mean, log_variance], name="encoder")


def build_decoder(config: VaeConfig) -> keras.Model:
    """latents [N, latent_dim] -> images float [N,H,W,3] in [0,1], exactly the encoder's input size.

    Each stage doubles the size and crops back to the matching encoder size where a stride-2 layer
    had rounded an odd size up.
    """
    sizes = [config.image_size, *config.layer_sizes]  # sizes[i] is the input of encoder layer i
    depth = len(config.filters)
    latents = keras.Input((config.latent_dim,), name="latents")
    h, w = sizes[-1]
    x = keras.layers.Dense(h * w * config.filters[-1], name="project")(latents)
    x = keras.layers.Reshape((h, w, config.filters[-1]), name="grid")(x)
    x = _normalize_and_activate(x, config, "project")
    use_bias = config.normalization == "none"
    for i in reversed(range(depth)):
        last = i == 0
        filters = 3 if last else config.filters[i - 1]
        kernel = config.last_kernel if last else config.kernels[i]
        if config.upsampling == "resize":
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"dec{i}_up")(x)
            x = keras.layers.Conv2D(
                filters, kernel, padding="same", use_bias=use_bias or last, name=f"dec{i}"
            )(x)
        else:
            x = keras.layers.Conv2DTranspose(
                filters, kernel, strides=2, padding="same", use_bias=use_bias or last,
                name=f"dec{i}",
            )(x)  # fmt: skip
        th, tw = sizes[i]
        extra_h, extra_w = 2 * sizes[i + 1][0] - th, 2 * sizes[i + 1][1] - tw
        if extra_h or extra_w:
            x = keras.layers.Cropping2D(((0, extra_h), (0, extra_w)), name=f"dec{i}_crop")(x)
        if not last:
            x = _normalize_and_activate(x, config, f"dec{i}")
    images = keras.layers.Activation("sigmoid", name="images")(x)
    return keras.Model(latents, images, name="decoder")


def posterior(mean, log_variance) -> tfd.Distribution:
    """q(z|x): a diagonal normal."""
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_variance))


def standard_normal_prior(latent_dim: int) -> tfd.Distribution:
    return tfd.MultivariateNormalDiag(loc=tf.zeros([latent_dim]), scale_diag=tf.ones([latent_dim]))


def kl_to_prior(mean, log_variance):
    """KL(q(z|x) || N(0, I)) per example, through TFP."""
    return tfd.kl_divergence(posterior(mean, log_variance), standard_normal_prior(mean.shape[-1]))


def sum_squared_error(a, b):
    """Per-image sum of squared errors over all pixels and channels."""
    return tf.reduce_sum(tf.square(a - b), axis=[1, 2, 3])


def replica_share(loss):
    """What one replica differentiates, inside its gradient tape: Keras sums the replicas'
    gradients under a distribution strategy, so each takes its share of the global mean (the
    loss itself on one device)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def to_float_images(images):
    """uint8 [0,255] or float [0,1] -> float32 [0,1]."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


class VAE(keras.Model):
    """Encoder, posterior, decoder; trains on SSE + beta * KL, reporting both terms."""

    def __init__(self, config: VaeConfig, seed: int = 0, kl_warmup_steps: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.encoder = build_encoder(config)
        self.decoder = build_decoder(config)
        self.sample_seed = seed
        self.kl_warmup_steps = kl_warmup_steps

    def encode(self, images, training=False):
        return self.encoder(to_float_images(images), training=training)

    def decode(self, latents, training=False):
        return self.decoder(latents, training=training)

    def call(self, images, training=False):
        """Reconstruction from the posterior mean: what the later steps use."""
        mean, _ = self.encode(images, training=training)
        return self.decode(mean, training=training)

    def beta_now(self):
        step = tf.cast(self.optimizer.iterations, tf.float32) if self.optimizer else 0.0
        if self.kl_warmup_steps <= 0:
            return tf.constant(self.config.beta, tf.float32)
        return self.config.beta * tf.minimum(1.0, step / float(self.kl_warmup_steps))

    def _loss_terms(self, images, training: bool, sample: bool):
        x = to_float_images(images)
        mean, log_variance = self.encoder(x, training=training)
        if sample:
            # Stateless noise keyed by (seed, step, replica): a resumed run draws what a
            # straight run would have drawn.
            replica = tf.distribute.get_replica_context()
            replica_id = replica.replica_id_in_sync_group if replica else 0
            seed = tf.stack(
                [
                    tf.cast(self.sample_seed + 7919 * replica_id, tf.int32),
                    tf.cast(self.optimizer.iterations, tf.int32),
                ]
            )
            z = posterior(mean, log_variance).sample(seed=seed)
        else:
            z = mean
        reconstruction = self.decoder(z, training=training)
        sse = sum_squared_error(x, reconstruction)
        kl = kl_to_prior(mean, log_variance)
        return sse, kl

    def train_step(self, images):
        beta = self.beta_now()
        with tf.GradientTape() as tape:
            sse, kl = self._loss_terms(images, training=True, sample=True)
            loss = tf.reduce_mean(sse + beta * kl)
            share = replica_share(loss)
        grads = tape.gradient(share, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        return {
            "loss": loss,
            "reconstruction": tf.reduce_mean(sse),
            "kl": tf.reduce_mean(kl),
            "beta": beta,
        }

    def test_step(self, images):
        sse, kl = self._loss_terms(images, training=False, sample=False)
        return {
            "loss": tf.reduce_mean(sse + self.config.beta * kl),
            "reconstruction": tf.reduce_mean(sse),
            "kl": tf.reduce_mean(kl),
        }
