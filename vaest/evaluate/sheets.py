"""The evaluation's pictures: sheets of images in a fixed pixel layout, and the latent PCA plot.

Sheets show images at an integer scale, so that every cell shows its image pixel for pixel and
the sheet's size follows from its rows and columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from vaest.evaluate.passes import MEASURED_ALPHA, PAINT, HeldOut
from vaest.latent import lerp, slerp
from vaest.measure import metrics
from vaest.measure.painter_gate import painter_verdict
from vaest.stylize.methods import DEFAULT_METHOD

ALPHAS = (0.0, 0.25, 0.5, 1.0, 1.5)


SEED_WEIGHTS = (0.25, 0.5)  # the original's z' = mu - 0.25 c_source + 0.5 c_target


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
    "residual": "residual",
    "refine": "refiner alone",
    "split": "frequency split",
    PAINT: "paint (painter network)",
    "reinhard": "Reinhard colour transfer",
}


def methods_sheet(path, exported, held: HeldOut, source, target):
    shown = held.shown[source]
    methods = list(held.methods)
    paints = PAINT in methods and painter_verdict(exported.painter_figures)[0]
    default = PAINT if paints else DEFAULT_METHOD  # what --method auto gives
    titles = ["input"] + [
        METHOD_TITLES[m] + (" (default)" if m == default else "") for m in methods
    ]
    rows = [
        (f"frame {index}", [shown["original"][i]] + [shown[f"method {m}"][i] for m in methods])
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
