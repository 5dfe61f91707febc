"""Train the painter (vaest.models.painter) at the paint resolution, into RUN/painter.

Each step takes random square crops (config.crop_range, the same box in two consecutive frames)
of the frames in RUN/data/paint, with a painting domain and a shift strength per pair; the
frozen VAE's colour guide is made for the whole frame and cropped alike
(vaest.train.painter_pairs). The painter's output is shaped by:
- texture: the sliced Wasserstein distance of its VGG16 features to its domain's (the domain's
  paintings at the paint resolution, vaest.measure.feature_loss), and with
  config.texture_scales 2 also of the output halved to the paintings halved;
- content: the relative distance of its VGG16 features (config.content_layer) to the frame's;
- colour: the squared difference of the output's and the guide's mean colours over cells;
- temporal: the output at t+1 against the output at t warped along the frames' DIS flow, over
  the pixels both frames show (Huang et al. 2017; vaest.flow's flow and visibility);
- noise: the output for the frame with a little Gaussian noise against the output for the
  frame (Gupta et al. 2017), when config.noise_weight > 0.
Every draw comes from (seed, step), so a resumed run continues bit for bit. The last frames of
each video are never drawn: the export measures the painter on them (vaest.measure.painter_gate).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tqdm import tqdm

from vaest.data.paint import load_paint_data, paint_info
from vaest.data.records import load_manifest, read_records
from vaest.data.sources import PAINT_SIDE
from vaest.errors import UserError
from vaest.io.grid import rows_grid
from vaest.io.imaging import as_float_images
from vaest.latent import CentroidTally, Shift
from vaest.measure.feature_loss import FeatureDistance, SlicedWasserstein, pools_from_tiles
from vaest.memory import require_painter_training_memory
from vaest.models.config import PainterConfig, colour_blur_retired
from vaest.models.painter import build_painter, painter_inputs
from vaest.run_dir import CONFIG, RunDir
from vaest.train.checkpoints import (
    latest_step,
    load_config,
    load_trained_vae,
    require_current_loss,
    require_untouched_config,
    save_config,
)
from vaest.train.cluster import own_folder
from vaest.train.loop import Schedule, TrainingRun, TrainSettings
from vaest.train.painter_pairs import PairSampler, VideoGuides, shifted_decodes
from vaest.train.refining import required_features
from vaest.upsample import paint_resolution

POOL_CROPS = 48  # crops per painting domain whose VGG features the texture term samples
CLIP_NORM = 1.0  # global gradient norm: Adam without it collapsed at a high learning rate


@dataclass
class PainterSettings(TrainSettings):
    steps: int = 100000  # a bound: --minutes usually ends the run first
    batch_size: int = 2  # pairs of consecutive crops per step
    texture_weights: str = "auto"


def resolve_painter_config(folder: Path, domains: tuple[str, ...], overrides: dict):
    """The saved config when resuming (overrides must agree with it), else a new one."""
    saved = None
    if latest_step(folder) is not None:
        require_untouched_config(folder)
        if (folder / CONFIG).exists():
            require_current_loss(folder, colour_blur_retired)
            saved = load_config(PainterConfig, folder)
    asked = dataclasses.replace(saved or PainterConfig(domains=domains), **overrides)
    if saved is not None:
        asked.require_same(saved, str(folder))
    return asked


def warp_images(images, flow):
    """Backward bilinear warp in TensorFlow: images sampled at p + flow(p), the border
    replicated, as vaest.flow.warp does in OpenCV. images [N,H,W,C], flow [N,H,W,2]."""
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    ys, xs = tf.meshgrid(
        tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij"
    )
    x = tf.clip_by_value(xs + flow[..., 0], 0.0, tf.cast(width - 1, tf.float32))
    y = tf.clip_by_value(ys + flow[..., 1], 0.0, tf.cast(height - 1, tf.float32))
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(images, [shape[0], -1, shape[3]])

    def at(yy, xx):
        index = tf.reshape(yy * width + xx, [shape[0], -1])
        return tf.reshape(tf.gather(flat, index, batch_dims=1), tf.shape(images))

    top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return top * (1 - fy) + bottom * fy


def halved(images):
    """Images at half their height and width (2x2 means)."""
    return tf.nn.avg_pool2d(tf.convert_to_tensor(images, tf.float32), 2, 2, "VALID")


def noise_instability(paint, frames, painted, seed, sigma: float):
    """Mean square change of the output when the frames get Gaussian noise of std `sigma`
    (clipped to [0, 1]); paint: frames -> painted output, painted: paint(frames). The noise
    comes from `seed`, int32 [2]."""
    noise = tf.random.stateless_normal(tf.shape(frames), seed) * sigma
    return tf.reduce_mean(tf.square(paint(tf.clip_by_value(frames + noise, 0.0, 1.0)) - painted))


class PainterTrainer(keras.Model):
    """The painter and its losses; the VGG16 trunk is frozen."""

    def __init__(self, config: PainterConfig, features, pools, seed: int = 0, **kw):
        """pools: feature_loss.pools_from_tiles of the domains' crops."""
        super().__init__(**kw)
        self.config = config
        self.painter = build_painter(config)
        self.texture = SlicedWasserstein(features, pools)
        self.content = FeatureDistance(features, layer=config.content_layer)
        self.seed = seed

    def call(self, frames, guides, weights, training=False):
        return self.painter(painter_inputs(frames, guides), weights, training=training)

    def losses_of(self, data, seed):
        """{term: value} for a batch of pairs (PairSampler.draw), and the painted crops."""
        cfg = self.config
        frames = data["frames"]
        out = self(frames, data["guides"], data["weights"], training=True)
        pairs = tf.shape(out)[0] // 2
        # The VGG terms judge the later frame of each pair only (VGG costs twice the painter;
        # the earlier frame is tied to it by the temporal term).
        maps = self.texture.features(tf.concat([out[pairs:], frames[pairs:]], 0))
        ours = [m[:pairs] for m in maps]
        if cfg.texture_scales == 2:
            ours += self.texture.features(halved(out[pairs:]))
        theirs = maps[self.content.layer][pairs:]
        content = tf.reduce_mean(self.content.between(ours[self.content.layer], theirs))
        texture = tf.reduce_mean(self.texture(ours, data["domain_ids"][pairs:], seed))
        cell = cfg.colour_cell
        colour = tf.reduce_mean(
            tf.square(tf.nn.avg_pool2d(out, cell, cell, "VALID")
                      - tf.nn.avg_pool2d(data["guides"], cell, cell, "VALID"))
        )  # fmt: skip
        warped = warp_images(out[:pairs], data["flow"])
        difference = tf.reduce_mean(tf.square(out[pairs:] - warped), axis=-1, keepdims=True)
        visible = data["visible"]
        flicker = tf.reduce_sum(difference * visible) / (tf.reduce_sum(visible) + 1.0)
        terms = {"texture": texture, "content": content, "colour": colour, "temporal": flicker}
        loss = (
            cfg.texture_weight * texture
            + cfg.content_weight * content
            + cfg.colour_weight * colour
            + cfg.temporal_weight * flicker
        )
        if cfg.noise_weight > 0:
            terms["noise"] = noise_instability(
                lambda x: self(x, data["guides"][pairs:], data["weights"][pairs:], training=True),
                frames[pairs:], out[pairs:], seed + [0, 7], cfg.noise_sigma,
            )  # fmt: skip
            loss += cfg.noise_weight * terms["noise"]
        return {"loss": loss, **terms}, out

    def _step_seed(self):
        step = tf.cast(self.optimizer.iterations, tf.int32)
        return tf.stack([tf.constant(self.seed, tf.int32), step])

    def train_step(self, data):
        with tf.GradientTape() as tape:
            terms, _ = self.losses_of(data, self._step_seed())
        variables = self.painter.trainable_variables
        grads = tape.gradient(terms["loss"], variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return terms


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
        raise UserError("the painter needs video frames and painting tiles in the training records")
    offsets = np.zeros((max(kinds) + 1, vae.config.latent_dim), np.float32)
    for i in painting_ids:
        offsets[i] = Shift.toward(tally.centroid("video"), tally.centroid(i), 1.0).offset
    return offsets


def train_painter(run_dir: str | Path, settings: PainterSettings, overrides: dict | None = None):
    """Train (or resume) RUN/painter to settings.steps or settings.minutes; returns the
    final validation figures (the losses on a fixed batch). One training at a time per folder
    (a lock, as the VAE's and the refiner's): two would write the same checkpoints."""
    with own_folder(RunDir(run_dir).painter, "default") as folder:
        return _train_painter(run_dir, folder, settings, overrides)


def _train_painter(run_dir, folder: Path, settings: PainterSettings, overrides: dict | None):
    run = RunDir(run_dir)
    manifest = load_manifest(run.data)
    info = paint_info(run_dir)
    domains = tuple(d for d in info["paintings"] if any(m.name == d for m in manifest.domains))
    if not domains:
        raise UserError(f"no painting domain of {run.data / 'paint'} is in the manifest")
    config = resolve_painter_config(run.painter, domains, overrides or {})
    frames = sum(info["frames"].values())
    size = paint_resolution(*info["size"], config.brush)
    if min(size) < PAINT_SIDE:
        raise UserError(
            f"brush {config.brush:g} trains at {size[0]}x{size[1]}, below {PAINT_SIDE} a side: "
            "extract a larger --paint_data_size or train with a smaller --brush"
        )
    require_painter_training_memory(config, frames, size, settings.batch_size)
    data = load_paint_data(run_dir, config.brush)
    vae, vae_step = load_trained_vae(run_dir)
    keras.utils.set_random_seed(settings.seed)
    features = required_features(settings.texture_weights, "the painter")
    by_id = domain_offsets(vae, run.data, manifest)
    ids = {d.name: d.id for d in manifest.domains}
    offsets = np.stack([by_id[ids[name]] for name in config.domains])
    videos = {
        name: VideoGuides.made(f, *shifted_decodes(vae, f, offsets), config.guide)
        for name, f in tqdm(data.frames.items(), desc="flows and guides", unit="video")
    }
    rng = np.random.default_rng(settings.seed)
    side = min(config.crop_range[1], *data.size)
    crops = {}
    for index, name in enumerate(config.domains):
        paintings = data.paintings[name]
        picks = [paintings[int(rng.integers(len(paintings)))] for _ in range(POOL_CROPS)]
        crops[index] = np.stack([_crop(p, side, rng) for p in picks])
    pools = pools_from_tiles(features, crops, len(config.domains), settings.seed)
    if config.texture_scales == 2:
        halves = {i: halved(c).numpy() for i, c in crops.items()}
        pools += pools_from_tiles(features, halves, len(config.domains), settings.seed)
    model = PainterTrainer(config, features, pools, settings.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate, global_clipnorm=CLIP_NORM)
    )
    model.optimizer.build(model.painter.trainable_variables)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(config, folder)
    sampler = PairSampler(videos, config, settings.batch_size, settings.seed)
    fixed = {k: tf.constant(v) for k, v in sampler.draw(0, purpose=1).items()}

    def validate() -> dict[str, float]:
        terms, _ = model.losses_of(fixed, tf.constant([settings.seed, 0], tf.int32))
        return {k: float(v) for k, v in terms.items()}

    def preview() -> np.ndarray:
        _, painted = model.losses_of(fixed, tf.constant([settings.seed, 0], tf.int32))
        return rows_grid([fixed["frames"].numpy(), fixed["guides"].numpy(), painted.numpy()])

    training = TrainingRun(
        "painter",
        folder,
        model,
        {"painter": model.painter, "optimizer": model.optimizer},
        Schedule.of(settings),
        validate,
        preview,
    )
    start = training.restore(settings.learning_rate)
    logging.info(
        "painter: on the VAE at step %d, %d parameters, domains %s, step %d",
        vae_step, model.painter.count_params(), ", ".join(config.domains), start,
    )  # fmt: skip
    return training.train(sampler.dataset_from)


def _crop(image: np.ndarray, side: int, rng) -> np.ndarray:
    """A random square crop at the image's own scale (its shorter side, if smaller than side)."""
    side = min(side, *image.shape[:2])
    top = int(rng.integers(image.shape[0] - side + 1))
    left = int(rng.integers(image.shape[1] - side + 1))
    return image[top : top + side, left : left + side]
