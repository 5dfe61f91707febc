"""The two passes over RUN/data's records: the held-out records, scored and stylized, and the
latent scatter of both splits.

Held-out means the records of the validation split. Per-image figures of an output against its
original are listed in FIGURES and computed for every output of reconstruction_outputs, so a new
figure or a new output is one entry there.

The stylizing methods measured are those vaest.stylize.methods compares (COMPARED_METHODS), the
painter network as `paint` when the export has one for the target (PAINT), and Reinhard's
transfer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from absl import logging
from tqdm import tqdm

from vaest.data.preview import evenly_spaced
from vaest.data.records import SPLITS, parse_example, serialized_dataset
from vaest.export.read import Exported
from vaest.io.imaging import as_float_images, to_uint8
from vaest.latent import Shift
from vaest.measure import metrics
from vaest.measure.style import StyleTally
from vaest.stylize.methods import COMPARED_METHODS, stylize_by_method
from vaest.stylize.paint import paint_frames, painter_weights

MEASURED_ALPHA = 1.0  # the strength at which the shift's effect is measured
REFERENCE_IMAGES = 300  # at most this many training images per side fit the style classifier


BATCH = 32


# The painter network's row (vaest.stylize.paint), named as --method names it.
PAINT = "paint"


# Per-image figures of an output against the original it came from: f(outputs, originals) -> [N].
FIGURES = {"psnr": metrics.psnr, "ssim": metrics.ssim}


def kl_divergence(mean: np.ndarray, log_variance: np.ndarray) -> np.ndarray:
    """KL(N(mean, exp(log_variance)) || N(0, I)) per row, in closed form."""
    return 0.5 * np.sum(np.exp(log_variance) + mean**2 - 1.0 - log_variance, axis=-1)


def reconstruction_outputs(exported: Exported, frames: np.ndarray):
    """(mean, log_variance, {output name: images}) for a batch of originals."""
    mean, log_variance = exported.encode(frames)
    vae = exported.decode(mean)
    outputs = {"vae": vae}
    if exported.has_refiner:
        outputs["refined"] = exported.refine(vae, frames)
    return mean, log_variance, outputs


def painter_mix(exported, target: str) -> np.ndarray | None:
    """The painter's domain weights for the target alone, or None when the export has no
    painter for it (then no method is measured as PAINT)."""
    if not exported.has_painter:
        return None
    if target not in exported.painter_domains:
        logging.info(
            "the painter is not measured: it was not trained on %s (it paints %s)",
            target,
            ", ".join(exported.painter_domains),
        )
        return None
    return painter_weights(exported, {target: 1.0})


def painted(exported, frames, residual, weights) -> np.ndarray:
    """The painter's pictures of frames at the model size, as step 7 makes them there: the
    `residual` method's pictures, handed over as uint8 (vaest.stylize.compose), are the colour
    guides."""
    return paint_frames(exported, frames, to_uint8(residual), weights)


@dataclass
class HeldOut:
    """What one pass over the validation split gathers."""

    figures: dict  # (domain, output, figure) -> per-image values
    kl: dict  # domain -> per-image KL
    means: dict  # domain -> [mu rows]
    shown: dict  # domain -> {"original"/output name: [images]}, "index": [frame or tile index]
    distances: dict  # "input"/"shifted"/"reencoded" -> per-frame distance to c_target
    methods: dict  # method -> StyleTally of the source's held-out frames at alpha = 1, with
    # PAINT when the export has a painter for the target, and "reinhard", the non-learned
    # baseline: each frame given the target's Lab mean and spread
    target_colours: list  # ColourStats of batches of the target's held-out records
    target_grams: list  # (per-layer Gram means, count) of those batches, with texture features


@dataclass
class References:
    """What the training split says of the target: its Lab statistics (for the Reinhard
    baseline) and, with texture features, a style classifier (for the deception rate)."""

    target_lab: object  # vaest.colour.LabStatistics
    classifier: object | None  # vaest.measure.deception.StyleClassifier


def training_references(data_dir, manifest, source, target, texture=None) -> References:
    """References from at most REFERENCE_IMAGES evenly spaced training images of each side."""
    from vaest.colour import lab_statistics
    from vaest.measure.deception import fit_painting_classifier

    counts = {d.name: d.counts.get("train", 0) for d in manifest.domains}
    names = {d.id: d.name for d in manifest.domains}
    chosen = {n: set(evenly_spaced(counts[n], REFERENCE_IMAGES)) for n in (source, target)}
    images, seen = {source: [], target: []}, dict.fromkeys(chosen, 0)
    for batch in _records(data_dir, manifest, ["train"]).batch(BATCH).as_numpy_iterator():
        for image, domain_id in zip(batch["image"], batch["domain_id"], strict=True):
            name = names[int(domain_id)]
            if name in chosen:
                if seen[name] in chosen[name]:
                    images[name].append(image)
                seen[name] += 1
    paintings, frames = (as_float_images(np.stack(images[n])) for n in (target, source))
    classifier = None
    if texture is not None:
        classifier = fit_painting_classifier(texture, paintings, frames)
    return References(lab_statistics(paintings), classifier)


def held_out_pass(
    exported, data_dir, manifest, source, target, frames: int, texture=None, references=None
) -> HeldOut:
    """Encode, reconstruct and score every held-out record; stylize the source's held-out frames
    by every method vaest.stylize.methods compares, by its painter as `paint` (painter_mix), and
    by Reinhard's transfer given `references`."""
    from vaest.colour import reinhard_transfer

    names = {d.id: d.name for d in manifest.domains}
    chosen = {d.name: evenly_spaced(d.counts.get("val", 0), frames) for d in manifest.domains}
    seen = dict.fromkeys(chosen, 0)
    c_target = exported.domain(target).centroid
    shift = Shift.toward(exported.domain(source).centroid, c_target, MEASURED_ALPHA)
    weights = painter_mix(exported, target)
    methods = COMPARED_METHODS + ((PAINT,) if weights is not None else ())
    methods += ("reinhard",) if references else ()
    tallies = {method: StyleTally(texture) for method in methods}
    out = HeldOut(
        defaultdict(list), defaultdict(list), defaultdict(list), {}, defaultdict(list), tallies,
        [], [],
    )  # fmt: skip
    for name in chosen:
        out.shown[name] = defaultdict(list)
    ds = _records(data_dir, manifest, ["val"]).batch(BATCH)
    with tqdm(total=manifest.count("val"), desc="held-out", unit="img") as bar:
        for batch in ds.as_numpy_iterator():
            originals = as_float_images(batch["image"])
            domains = np.array([names[int(i)] for i in batch["domain_id"]])
            mean, log_variance, outputs = reconstruction_outputs(exported, originals)
            kl = kl_divergence(mean, log_variance)
            for output, images in outputs.items():
                for figure, function in FIGURES.items():
                    values = function(images, originals)
                    for domain, value in zip(domains, values, strict=True):
                        out.figures[domain, output, figure].append(float(value))
            shown_rows = set()
            for row, domain in enumerate(domains):
                out.kl[domain].append(float(kl[row]))
                out.means[domain].append(mean[row])
                if seen[domain] in chosen[domain]:
                    shown_rows.add(row)
                    shown = out.shown[domain]
                    shown["original"].append(originals[row])
                    shown["index"].append(int(batch["index"][row]))
                    for output, images in outputs.items():
                        shown[output].append(images[row])
                seen[domain] += 1
            is_target = domains == target
            if is_target.any():
                out.target_colours.append(metrics.colour_statistics(originals[is_target]))
                if texture is not None:
                    from vaest.measure.features import texture_statistics

                    grams = texture_statistics(texture, originals[is_target])
                    out.target_grams.append((grams, int(is_target.sum())))
            is_source = domains == source
            if is_source.any():
                stylized = stylize_by_method(
                    exported, originals[is_source], shift, means=mean[is_source]
                )
                if weights is not None:
                    stylized[PAINT] = painted(
                        exported, originals[is_source], stylized["residual"], weights
                    )
                if references is not None:
                    stylized["reinhard"] = reinhard_transfer(
                        originals[is_source], references.target_lab
                    )
                rows = np.flatnonzero(is_source)
                for method, images in stylized.items():
                    out.methods[method].add(images, originals[is_source])
                    for image, row in zip(images, rows, strict=True):
                        if row in shown_rows:
                            out.shown[source][f"method {method}"].append(image)
                reencoded = exported.encode(stylized["refine"])[0]  # decoded and refined z'
                shifted = shift.apply(mean[is_source])
                latents = {"input": mean[is_source], "shifted": shifted, "reencoded": reencoded}
                for key, z in latents.items():
                    out.distances[key].extend(np.linalg.norm(z - c_target, axis=1).tolist())
            bar.update(len(originals))
    return out


def scatter_pass(exported, data_dir, manifest, max_records: int):
    """mu of every stride-th record of both splits, at most max_records: (means, ids, stride)."""
    total = sum(manifest.count(s) for s in SPLITS)
    stride = max(1, math.ceil(total / max_records))
    ds = _records(data_dir, manifest, SPLITS, stride).batch(BATCH)
    means, ids = [], []
    with tqdm(total=len(range(0, total, stride)), desc="latents", unit="img") as bar:
        for batch in ds.as_numpy_iterator():
            means.append(exported.encode(batch["image"])[0])
            ids.append(batch["domain_id"])
            bar.update(len(batch["image"]))
    return np.concatenate(means), np.concatenate(ids), stride


def _records(data_dir, manifest, splits, stride: int = 1):
    """Records of the splits in their fixed order, every stride-th one, decoded after picking."""
    serialized = serialized_dataset(data_dir, splits[0], manifest)
    for split in splits[1:]:
        serialized = serialized.concatenate(serialized_dataset(data_dir, split, manifest))
    if stride > 1:
        serialized = serialized.shard(stride, 0)
    return serialized.map(lambda s: parse_example(s, manifest.image_size))
