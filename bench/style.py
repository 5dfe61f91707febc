"""The refiner's texture term (train_refiner.py --style_weight) on one painting, with and without.

Trains at 90x160 on a pan over two photographs of ../shared/data plus tiles of one painting
(--painting, default candy.jpg) as its own painting domain: a Gram-matrix target is only well
posed for one style, since the mean Gram matrix of several paintings is no painting's texture.
The same VAE gets two structure-guided refiners, one plain and one with the texture term. On a
pan over two other photographs (unseen), both run the residual method at alpha = 1, and it
reports edge correlation and sharpness against the input, and the colour and VGG texture (HED
weights) distances to the painting's held-out tiles relative to the input's. Writes
doc/style_side_by_side.png (input | without | with the texture term). Skips when ../shared/data
is absent. Takes about 25 minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from absl import app, flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from common import (  # noqa: E402
    SHARED,
    begin,
    define_training_flags,
    films,
    fitted_frames,
    refiner_settings,
    train_vae_for_two,
)

flags.DEFINE_string("painting", "candy.jpg", "The painting, a file in ../shared/data/paintings.")
define_training_flags(700, 300)
flags.DEFINE_float("style_weight", 0.05, "train_refiner.py --style_weight of the styled refiner.")
FLAGS = flags.FLAGS
SIZE = (90, 160)


def main(argv):
    work = begin(FLAGS.work_dir, "vaest-style-")
    if work is None:
        return
    from vaest.data.extract import extract
    from vaest.data.records import domain_images
    from vaest.data.sources import Options, plan_domains
    from vaest.export.read import Exported
    from vaest.export.write import export
    from vaest.io.grid import rows_grid
    from vaest.io.imaging import save_image
    from vaest.latent import Shift
    from vaest.measure import features, metrics
    from vaest.measure.style import style_figures
    from vaest.stylize.methods import stylize_by_method
    from vaest.train.refiner import train_refiner

    train_video, unseen = films(work, (180, 320), 300, 200)
    painting = work / "painting"
    painting.mkdir(exist_ok=True)
    shutil.copy(SHARED / "paintings" / FLAGS.painting, painting / FLAGS.painting)

    plain, styled = work / "plain", work / "styled"
    started = time.perf_counter()
    if not (plain / "data").exists():
        options = Options(image_size=SIZE, frame_stride=2, tiles_per_painting=300)
        extract(plan_domains([f"film={train_video}"], [f"art={painting}"], options), options, plain)
    train_vae_for_two(plain, styled, FLAGS.vae_steps, FLAGS.batch_size)
    refiner = refiner_settings(FLAGS.refiner_steps, FLAGS.batch_size)
    minutes = {}
    for run, weight in ((plain, 0.0), (styled, FLAGS.style_weight)):
        start = time.perf_counter()
        train_refiner(run, refiner, {"guide": "highpass", "style_weight": weight})
        minutes[run.name] = round((time.perf_counter() - start) / 60, 1)
        export(run)

    tiles = domain_images(plain / "data", "val", "art")
    colours = metrics.colour_statistics(tiles)
    texture = features.TextureFeatures(features.default_weights_path())
    tile_texture = features.texture_statistics(texture, tiles)
    frames = fitted_frames(unseen, SIZE, every=10)
    report = {
        "painting": FLAGS.painting,
        "image_size": list(SIZE),
        "style_weight": FLAGS.style_weight,
        "refiner_minutes": minutes,
        "total_minutes": round((time.perf_counter() - started) / 60, 1),
    }
    outputs = {}
    for run in (plain, styled):
        exported = Exported.from_run(run)
        source = exported.encode(frames)[0].mean(axis=0)  # --source auto
        target = exported.domain("art").centroid
        outputs[run.name] = stylize_by_method(exported, frames, Shift.toward(source, target, 1.0))
        for method in ("residual", "refine"):
            report[f"{run.name} {method}"] = style_figures(
                outputs[run.name][method], frames, colours, texture, tile_texture
            )
    print(json.dumps(report, indent=2))
    names = ("edge_correlation", "sharpness", "colour_distance_ratio", "texture_distance_ratio")
    print(f"\nunseen video -> {FLAGS.painting}, alpha = 1: " + " | ".join(names))
    for key in ("plain residual", "styled residual", "plain refine", "styled refine"):
        print(f"  {key:16s} " + " ".join(f"{report[key][n]:6.3f}" for n in names))
    picks = np.linspace(0, len(frames) - 1, 4).round().astype(int)
    columns = (frames, outputs["plain"]["residual"], outputs["styled"]["residual"])
    sheet = rows_grid([np.concatenate([c[i] for c in columns], 1)[None] for i in picks])
    save_image(sheet, ROOT / "doc" / "style_side_by_side.png")
    print(f"\nwrote {ROOT / 'doc' / 'style_side_by_side.png'}; runs in {work}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    app.run(main)
