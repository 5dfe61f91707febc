"""The adversarial quarter of the VAEGAN: the refiner learns to paint shifted latents.

At alpha = 0 the refiner keeps its reconstruction task (vaest.train.refining). At alpha drawn
around 1, a frame's latent is shifted toward a painting domain, decoded and refined (guided by
the frame's detail), and two or three more terms shape that output:
- a conditional patch discriminator (vaest.models.discriminator) that sees the domain's training
  tiles as real and these outputs as fake, with the hinge loss and an R1 penalty: it judges the
  local look of paint, which a mean Gram matrix of several paintings cannot describe;
- a content term, the distance of VGG16 relu3_3 features to the frame's, relative to the
  frame's own magnitude, so the content stays recognisable without keeping the photo's edges;
- optionally (sliced_wasserstein_weight), a texture term: the sliced Wasserstein distance of the
  output's VGG16 features to its target domain's tiles' (vaest.measure.feature_loss).
The discriminator and its optimizer checkpoint with the refiner, and every random draw is seeded
by the step, so a resumed run continues bit for bit.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vaest.data.pipeline import training_dataset
from vaest.data.preview import evenly_spaced
from vaest.data.records import domain_images, read_records
from vaest.errors import UserError
from vaest.io.imaging import as_float_images
from vaest.latent import CentroidTally, Shift
from vaest.measure.feature_loss import FeatureDistance, SlicedWasserstein, pools_from_tiles
from vaest.models import discriminator as adversary
from vaest.models.refiner import refiner_inputs
from vaest.models.vae import replica_share, to_float_images
from vaest.train.refining import RefinerTrainer, required_features

DISCRIMINATOR_BETAS = (0.5, 0.99)  # Adam's betas for the discriminator, as is usual for GANs
POOL_TILES = 32  # training tiles per painting domain whose VGG features the texture term samples


def domain_offsets(vae, data_dir, manifest, batch: int = 32) -> np.ndarray:
    """[domains, latent_dim]: per painting domain d, the offset of latent.Shift.toward(c_video,
    c_d, 1), over the training records; zero for video domains. Alpha scales it."""
    kinds = {d.id: d.kind for d in manifest.domains}
    tally = CentroidTally(vae.config.latent_dim)
    for records in read_records(data_dir, "train", manifest).batch(batch):
        ids = records["domain_id"].numpy()
        means = vae.encode(as_float_images(records["image"].numpy()))[0].numpy()
        tally.add("video", means[np.array([kinds[int(i)] == "video" for i in ids])])
        tally.add_by_key(ids.tolist(), means)
    painting_ids = [d.id for d in manifest.domains if d.kind == "painting" and tally.count(d.id)]
    if tally.count("video") == 0 or not painting_ids:
        raise UserError("adversarial training needs video frames and painting tiles to train on")
    offsets = np.zeros((max(kinds) + 1, vae.config.latent_dim), np.float32)
    for i in painting_ids:
        offsets[i] = Shift.toward(tally.centroid("video"), tally.centroid(i), 1.0).offset
    return offsets


def adversarial_trainer(vae, data_dir, manifest, config, settings):
    """The AdversarialRefinerTrainer for a refiner config with adversarial_weight > 0."""
    features = required_features(settings.texture_weights, "the adversarial content term")
    offsets = domain_offsets(vae, data_dir, manifest)
    texture = None
    if config.sliced_wasserstein_weight > 0:
        tiles = {
            d.id: _evenly_spaced_images(domain_images(data_dir, "train", d.name), POOL_TILES)
            for d in manifest.domains
            if d.kind == "painting"
        }
        pools = pools_from_tiles(features, tiles, len(offsets), settings.seed)
        texture = SlicedWasserstein(features, pools)
    return AdversarialRefinerTrainer(vae, config, offsets, features, settings.seed, texture)


def adversarial_dataset(data_dir, manifest, batch_size: int, seed: int, start_step: int):
    """Batches of (frames, (painting tiles, their domain ids)), both resumable at start_step."""
    videos = [d.name for d in manifest.domains if d.kind == "video"]
    paintings = [d.name for d in manifest.domains if d.kind == "painting"]
    frames, mix = training_dataset(
        data_dir, manifest, batch_size, videos, seed=seed, start_step=start_step
    )
    tiles, _ = training_dataset(
        data_dir, manifest, batch_size, paintings, seed + 1, start_step=start_step,
        with_domain_ids=True,
    )  # fmt: skip
    return tf.data.Dataset.zip((frames, tiles)), mix


class AdversarialRefinerTrainer(RefinerTrainer):
    """RefinerTrainer plus a conditional patch discriminator on refined shifted latents."""

    def __init__(self, vae, config, offsets: np.ndarray, features, seed=0, texture=None, **kw):
        """offsets: domain_offsets; features: vaest.measure.features.TextureFeatures; texture:
        a feature_loss.SlicedWasserstein when config.sliced_wasserstein_weight > 0."""
        super().__init__(vae, config, **kw)
        self.texture = texture
        self.offsets = tf.constant(offsets, tf.float32)
        ids = np.flatnonzero(np.abs(offsets).sum(axis=1) > 0).astype(np.int32)
        self.painting_ids = tf.constant(ids)
        self.seed = seed
        self.content = FeatureDistance(features, layer=2)  # relu3_3
        self.discriminator = adversary.build_discriminator(
            config.image_size, len(offsets), config.discriminator_filters,
            scales=config.discriminator_scales,
        )  # fmt: skip
        self.discriminator_optimizer = None

    def build_optimizers(self, learning_rate: float) -> None:
        self.discriminator_optimizer = keras.optimizers.Adam(
            learning_rate, *DISCRIMINATOR_BETAS, name="discriminator_adam"
        )
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.optimizer.build(self.refiner.trainable_variables)

    def painted(self, images, domain_ids, alpha=1.0, training=False):
        """The refiner on decode(mu + alpha offset[domain]), guided by the frames."""
        x = to_float_images(images)
        mean, _ = self.vae.encode(x)
        latents = mean + alpha * tf.gather(self.offsets, domain_ids)
        shifted = tf.stop_gradient(self.vae.decode(latents))
        return self.refiner(refiner_inputs(shifted, x, self.config), training=training)

    def _step_seed(self):
        step = tf.cast(self.optimizer.iterations, tf.int32)
        return tf.stack([tf.constant(self.seed, tf.int32), step])

    def _draws(self, count):
        """Per frame, a painting domain and an alpha, seeded by (seed, step)."""
        seed = self._step_seed()
        pick = tf.random.stateless_uniform([count], seed, 0, tf.size(self.painting_ids), tf.int32)
        spread = self.config.adversarial_spread
        unit = tf.random.stateless_uniform([count], seed + tf.constant([7, 0]))
        return tf.gather(self.painting_ids, pick), 1.0 + spread * (2.0 * unit - 1.0)

    def train_step(self, data):
        cfg = self.config
        frames, (tiles, tile_ids) = data
        x, real = to_float_images(frames), to_float_images(tiles)
        values = float(x.shape[1] * x.shape[2] * 3)
        targets, alpha = self._draws(tf.shape(x)[0])
        with tf.GradientTape() as tape, tf.GradientTape() as critic_tape:
            task, _, logs = self.task_loss(tf.concat([x, real], axis=0))
            fake = self.painted(x, targets, alpha[:, None], training=True)
            fake_logits = self.discriminator([fake, targets])
            adversarial = adversary.hinge_generator_loss(fake_logits)
            texture = tf.constant(0.0)
            if self.texture is None:
                content = tf.reduce_mean(self.content(fake, x))
            else:  # one VGG pass serves both terms
                maps = self.texture.features(tf.concat([fake, x], 0))
                ours = [m[: tf.shape(x)[0]] for m in maps]
                theirs = maps[self.content.layer][tf.shape(x)[0] :]
                content = tf.reduce_mean(self.content.between(ours[self.content.layer], theirs))
                seed = self._step_seed() + tf.constant([0, 1 << 20])
                texture = tf.reduce_mean(self.texture(ours, targets, seed))
            loss = tf.reduce_mean(task) + values * (
                cfg.adversarial_weight * adversarial
                + cfg.content_weight * content
                + cfg.sliced_wasserstein_weight * texture
            )
            real_logits = self.discriminator([real, tile_ids])
            held_logits = self.discriminator([tf.stop_gradient(fake), targets])
            critic = adversary.hinge_discriminator_loss(real_logits, held_logits)
            patches = float(np.prod(adversary.per_scale(real_logits)[0].shape[1:]))
            r1 = adversary.r1_penalty(self.discriminator, real, tile_ids) / patches
            critic_loss = critic + 0.5 * cfg.r1_gamma * r1
            shares = replica_share(loss), replica_share(critic_loss)
        refiner_variables = self.refiner.trainable_variables
        grads = tape.gradient(shares[0], refiner_variables)
        critic_variables = self.discriminator.trainable_variables
        critic_grads = critic_tape.gradient(shares[1], critic_variables)
        self.optimizer.apply_gradients(zip(grads, refiner_variables, strict=True))
        self.discriminator_optimizer.apply_gradients(
            zip(critic_grads, critic_variables, strict=True)
        )
        return {
            "loss": loss,
            **logs,
            "adversarial": adversarial,
            "content": content,
            "sliced_wasserstein": texture,
            "discriminator": critic,
            "r1": r1,
            "real_score": _mean_logit(real_logits),
            "fake_score": _mean_logit(held_logits),
            "discriminator_accuracy": adversary.patch_accuracy(real_logits, held_logits),
        }


def _evenly_spaced_images(images: np.ndarray, wanted: int) -> np.ndarray:
    return images[sorted(evenly_spaced(len(images), wanted))]


def _mean_logit(logits):
    return tf.add_n([tf.reduce_mean(m) for m in adversary.per_scale(logits)]) / len(
        adversary.per_scale(logits)
    )
