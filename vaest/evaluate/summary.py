"""metrics.json: the evaluation's figures, all finite numbers, with what they were measured on."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np

from vaest.evaluate.passes import MEASURED_ALPHA, HeldOut
from vaest.measure import metrics
from vaest.measure.painter_gate import painter_verdict


def summarize(
    held: HeldOut,
    exported,
    manifest,
    source,
    target,
    scatter: dict,
    texture_weights: str,
    classifier=None,
) -> dict:
    """metrics.json: the figures, with what they were measured on."""
    c_source, c_target = exported.domain(source).centroid, exported.domain(target).centroid
    direction = c_target - c_source
    scores = [np.asarray(held.means[d]) @ direction for d in (source, target)]
    reconstruction = defaultdict(lambda: defaultdict(dict))
    for (domain, output, figure), values in held.figures.items():
        reconstruction[domain][output][figure] = float(np.mean(values))
    distance = {key: float(np.mean(values)) for key, values in held.distances.items()}
    export = {"vae_step": exported.info["vae_step"], "has_refiner": exported.has_refiner}
    if exported.has_refiner:
        export |= {"refiner_step": exported.info["refiner_step"], "guide": exported.guide}
    if exported.has_painter:
        # what --method auto follows, measured at the paint resolution by the export
        paints, why = painter_verdict(exported.painter_figures)
        export |= {
            "painter_step": exported.info["painter_step"],
            "painter_domains": exported.painter_domains,
            "painter_gate": {"paints": paints, "why": why, "figures": exported.painter_figures},
        }
    export["image_size"] = list(exported.image_size)
    found = {
        "source": source,
        "target": target,
        "export": export,
        "counts": {
            d.name: {
                "train": int(d.counts.get("train", 0)),
                "val": int(d.counts.get("val", 0)),
                "centroid": int(exported.domain(d.name).count),
            }
            for d in manifest.domains
        },
        "heldout_reconstruction": reconstruction,
        "heldout_kl": {domain: float(np.mean(values)) for domain, values in held.kl.items()},
        "latent_scatter": scatter,
        "shift": {
            "centroid_distance": float(np.linalg.norm(direction)),
            "heldout_auc": metrics.roc_auc(
                np.concatenate(scores), np.r_[np.zeros(len(scores[0])), np.ones(len(scores[1]))]
            ),
            "heldout_auc_records": {source: len(scores[0]), target: len(scores[1])},
            "alpha": MEASURED_ALPHA,
            "heldout_frames": len(held.distances["input"]),
            "input_distance_to_target": distance["input"],
            "shifted_latent_distance_to_target": distance["shifted"],
            "reencoded_output_distance_to_target": distance["reencoded"],
            "shifted_latent_drop": distance["input"] - distance["shifted"],
            "reencoded_output_drop": distance["input"] - distance["reencoded"],
        },
    }
    found["methods"] = method_figures(held, texture_weights, classifier)
    found = json.loads(json.dumps(found))  # plain dicts, lists and numbers
    _require_finite(found, "")
    return found


def method_figures(held: HeldOut, texture_weights: str, classifier=None) -> dict:
    """Per method, the style figures of the source's held-out frames against the target's
    held-out records (vaest.measure.style.style_figures), with the deception rate of
    `classifier` (vaest.evaluate.passes.training_references) when there is one."""
    colours = metrics.pooled_colour_statistics(held.target_colours)
    grams = None
    if held.target_grams:
        from vaest.measure.features import pooled_texture_statistics

        grams = pooled_texture_statistics(held.target_grams)
    found = {
        "alpha": MEASURED_ALPHA,
        "heldout_frames": len(next(iter(held.methods.values())).sharpness),
        "texture_weights": texture_weights,
    }
    for method, tally in held.methods.items():
        found[method] = tally.figures(colours, grams, classifier)
    return found


def _require_finite(value, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _require_finite(item, f"{where}/{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _require_finite(item, f"{where}[{i}]")
    elif value is None or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(
            f"the figure {where} is {value}, not a finite number (has training diverged?)"
        )
