"""Step 5: RUN/export, everything mogrify and evaluation need and nothing they must guess.

- saved_model/: a SavedModel with signatures encode, decode, refine (if a refiner was trained) and
  stylize; images cross them as float32 in [0,1] at the model's size. With a trained painter,
  also paint: frames, colour guides and domain weights at any size (vaest.models.painter).
- latents.npz: per-domain centroid, spread and counts of the posterior mean over every record.
- config.json, refiner_config.json, painter_config.json, manifest.json and export.json
  (checkpoint steps used; the painter's domains in the order of its weights).

The VAE goes in with its batch norm folded into its convolutions (vaest.export.fold).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging
from tqdm import tqdm

from vaest.data.paint import paint_info
from vaest.data.records import SPLITS, Manifest, load_manifest, read_records
from vaest.errors import ConfigMismatch
from vaest.export.fold import fold_vae
from vaest.export.precision import bfloat16_twins
from vaest.export.read import BFLOAT16_SUFFIX
from vaest.io.atomic import require_writable, staged_folder
from vaest.latent import CentroidTally
from vaest.models.painter import painter_inputs
from vaest.models.refiner import refiner_inputs
from vaest.models.vae import to_float_images
from vaest.run_dir import (
    CONFIG,
    EXPORT_INFO,
    LATENTS,
    MANIFEST,
    PAINTER_CONFIG,
    REFINER_CONFIG,
    SAVED_MODEL,
    RunDir,
)
from vaest.train.checkpoints import load_trained_painter, load_trained_refiner, load_trained_vae
from vaest.upsample import paint_resolution


class StyleModel(tf.Module):
    """The exported graphs. Only tf ops: loads with tf.saved_model.load, without vaest."""

    def __init__(self, config, encoder, decoder, refiner=None, refiner_config=None, painter=None):
        """config: the VaeConfig; encoder and decoder: the VAE's, or fold_vae's for inference;
        painter: a vaest.models.painter.Painter, or None."""
        super().__init__()
        self.painter = painter
        self.encoder = encoder
        self.decoder = decoder
        self.refiner = refiner
        self.refiner_config = refiner_config
        self.guided = refiner_config is not None and refiner_config.guide != "none"
        height, width = config.image_size
        # Variables, not constants, so that they are saved and readable after loading.
        self.image_size = tf.Variable([height, width], trainable=False, dtype=tf.int32)
        self.latent_dim = tf.Variable(config.latent_dim, trainable=False, dtype=tf.int32)

    # Every output is float32, also from a bfloat16 twin (export.precision).
    def _encode(self, images):
        mean, log_variance = self.encoder(to_float_images(images), training=False)
        return {"mean": _float32(mean), "log_variance": _float32(log_variance)}

    def _decode(self, latents):
        return {"images": _float32(self.decoder(latents, training=False))}

    def _refine(self, images, frames, detail=1.0):
        inputs = refiner_inputs(images, frames, self.refiner_config, detail)
        return {"images": _float32(self.refiner(inputs, training=False))}

    def _stylize(self, images, source, target, source_weight, target_weight, detail=1.0):
        frames = to_float_images(images)
        mean = self._encode(frames)["mean"]
        # The TensorFlow copy of vaest.latent.Shift, so that the SavedModel loads without vaest.
        shifted = mean - source_weight * source[None] + target_weight * target[None]
        decoded = self._decode(shifted)
        if self.refiner is None:
            return decoded
        return self._refine(decoded["images"], frames, detail)

    def _paint(self, frames, guides, weights):
        inputs = painter_inputs(to_float_images(frames), to_float_images(guides))
        return {"images": _float32(self.painter(inputs, weights, training=False))}

    def signatures(self, height: int, width: int, latent_dim: int) -> dict:
        images = tf.TensorSpec([None, height, width, 3], tf.float32, name="images")
        latent = tf.TensorSpec([latent_dim], tf.float32)
        scalar = tf.TensorSpec([], tf.float32)
        self.encode = tf.function(self._encode)
        self.encode.get_concrete_function(tf.TensorSpec([None, height, width, 3], tf.uint8))
        self.decode = tf.function(self._decode)
        self.stylize = tf.function(self._stylize)
        found = {
            "encode": self.encode.get_concrete_function(images),
            "decode": self.decode.get_concrete_function(
                tf.TensorSpec([None, latent_dim], tf.float32, name="latents")
            ),
        }
        stylize_inputs = [images, latent, latent, scalar, scalar]
        if self.guided:
            # Only a guided refiner takes the frame and how much of its structure to keep.
            stylize_inputs.append(tf.TensorSpec([], tf.float32, name="detail"))
        found["stylize"] = self.stylize.get_concrete_function(*stylize_inputs)
        if self.refiner is not None:
            if self.guided:
                self.refine = tf.function(self._refine)
                frames = tf.TensorSpec([None, height, width, 3], tf.float32, name="frames")
                detail = tf.TensorSpec([], tf.float32, name="detail")
                found["refine"] = self.refine.get_concrete_function(images, frames, detail)
            else:
                self.refine = tf.function(lambda images: self._refine(images, images))
                found["refine"] = self.refine.get_concrete_function(images)
        if self.painter is not None:  # at any size: the painter is fully convolutional
            self.paint = tf.function(self._paint)
            any_size = [None, None, None, 3]
            found["paint"] = self.paint.get_concrete_function(
                tf.TensorSpec(any_size, tf.float32, name="frames"),
                tf.TensorSpec(any_size, tf.float32, name="guides"),
                tf.TensorSpec([None, len(self.painter.config.domains)], tf.float32, name="weights"),
            )
        return found


def save_graphs(path: Path, vae, refiner=None, refiner_config=None, painter=None):
    """The SavedModel mogrify runs: the VAE with its batch norm folded, the refiner, the painter
    (float32 only), and the bfloat16 twins of the first two. Returns the folded encoder and the
    signatures."""
    config = vae.config
    encoder, decoder = fold_vae(vae)
    module = StyleModel(config, encoder, decoder, refiner, refiner_config, painter)
    signatures = module.signatures(*config.image_size, config.latent_dim)
    twins = bfloat16_twins(config, encoder, decoder, refiner, refiner_config)
    module.bfloat16 = StyleModel(config, *twins, refiner_config)  # saved with the module
    for name, graph in module.bfloat16.signatures(*config.image_size, config.latent_dim).items():
        signatures[name + BFLOAT16_SUFFIX] = graph
    tf.saved_model.save(module, str(path), signatures=signatures)
    return encoder, signatures


def _float32(tensor):
    return tf.cast(tensor, tf.float32)


def domain_latent_statistics(encoder, data_dir: Path, manifest: Manifest, batch_size: int = 64):
    """Centroid and spread of the posterior mean over every record of every domain."""
    ids = [d.id for d in manifest.domains]
    tally = CentroidTally(encoder.outputs[0].shape[-1])
    counts = {(i, s): 0 for i in ids for s in SPLITS}

    @tf.function
    def means(images):
        return encoder(to_float_images(images), training=False)[0]

    with tqdm(total=sum(manifest.count(s) for s in SPLITS), desc="latents", unit="img") as bar:
        for split in SPLITS:
            ds = read_records(data_dir, split, manifest).batch(batch_size).prefetch(2)
            for batch in ds:
                mu, domains = means(batch["image"]).numpy(), batch["domain_id"].numpy()
                tally.add_by_key(domains, mu)
                for domain in domains:
                    counts[int(domain), split] += 1
                bar.update(len(mu))
    return {
        "names": np.array([d.name for d in manifest.domains]),
        "kinds": np.array([d.kind for d in manifest.domains]),
        "ids": np.array(ids, np.int64),
        "centroid": np.stack([tally.centroid(i) for i in ids]),
        "std": np.stack([tally.std(i) for i in ids]),
        "count": np.array([tally.count(i) for i in ids], np.int64),
        "count_train": np.array([counts[i, "train"] for i in ids], np.int64),
        "count_val": np.array([counts[i, "val"] for i in ids], np.int64),
    }


def export(run_dir: str | Path) -> Path:
    """Write RUN/export atomically from RUN/vae, RUN/refiner (if any) and RUN/data."""
    run = RunDir(run_dir)
    require_writable(run.export, "export")
    data_dir = run.data
    manifest = load_manifest(data_dir)
    vae, vae_step = load_trained_vae(run_dir)
    config = vae.config
    if tuple(manifest.image_size) != tuple(config.image_size):
        raise ConfigMismatch(
            f"the VAE in {run.vae} works at {config.image_size} but {data_dir} holds "
            f"{tuple(manifest.image_size)} images: extract again or train again"
        )
    refiner, refiner_config, refiner_step = load_trained_refiner(run_dir)
    if refiner_config is not None and tuple(refiner_config.image_size) != config.image_size:
        raise ConfigMismatch(
            f"the refiner in {run.refiner} works at {refiner_config.image_size} but the "
            f"VAE at {config.image_size}: train the refiner again"
        )
    if refiner is None:
        logging.warning("no trained refiner in %s: exporting the VAE alone", run.refiner)
    painter, painter_step = load_trained_painter(run_dir)

    final = run.export
    with staged_folder(final) as tmp:
        guide = refiner_config.guide if refiner_config else "none"
        encoder, signatures = save_graphs(tmp / SAVED_MODEL, vae, refiner, refiner_config, painter)
        # The folded encoder: the centroids come from the graph that stylize runs.
        stats = domain_latent_statistics(encoder, data_dir, manifest)
        np.savez(tmp / LATENTS, **stats)
        shutil.copy(run.vae / CONFIG, tmp / CONFIG)
        if refiner_config is not None:
            shutil.copy(run.refiner / CONFIG, tmp / REFINER_CONFIG)
        if painter is not None:
            shutil.copy(run.painter / CONFIG, tmp / PAINTER_CONFIG)
        shutil.copy(data_dir / MANIFEST, tmp / MANIFEST)
        info = {
            "vae_step": vae_step,
            "refiner_step": refiner_step,
            "has_refiner": refiner is not None,
            "guide": guide,
            "has_painter": painter is not None,
            "painter_step": painter_step,
            # the order of the paint signature's domain weights, and the colour guide it takes
            "painter_domains": list(painter.config.domains) if painter is not None else [],
            "painter_guide": painter.config.guide if painter is not None else None,
            "image_size": list(config.image_size),
            "latent_dim": config.latent_dim,
            # batch norm folded into the convolutions (vaest.export.fold)
            "folded": config.normalization == "batch",
            "fit": manifest.fit,
            "signatures": sorted(signatures),
        }
        if painter is not None:
            # the frames it trained on: step 7 paints no larger (vaest.upsample.paint_resolution)
            trained = paint_info(run_dir)["size"]
            info["painter_frame_size"] = list(paint_resolution(*trained, painter.config.brush))
            info["painter_figures"] = _painter_figures(tmp, info, run_dir)
        (tmp / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return final


def _painter_figures(folder: Path, info: dict, run_dir) -> dict:
    """The exported painter's held-out figures beside residual's (vaest.export.painter_figures),
    logged with the verdict --method auto will follow."""
    from vaest.data.paint import load_paint_data
    from vaest.export.painter_figures import measure_painter
    from vaest.export.read import Exported
    from vaest.measure.features import load_texture_features
    from vaest.measure.painter_gate import figures_line, painter_verdict

    (folder / EXPORT_INFO).write_text(json.dumps(info) + "\n")  # what Exported reads
    exported = Exported(folder, trust=True)  # made just now, from the run's own checkpoints
    figures = measure_painter(exported, load_paint_data(run_dir), load_texture_features("auto"))
    logging.info("the painter's held-out figures %s", figures_line(figures))
    paints, why = painter_verdict(figures)
    logging.info("--method auto will %s: %s", "paint" if paints else "take residual", why)
    return figures
