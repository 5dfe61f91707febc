"""Painted frames: the adversarial refiner (--method paint) against residual, refine, Reinhard.

Trains at 90x160 on a pan over two photographs of ../shared/data and two painting domains: one
painting (--painting, default candy.jpg) and all eleven paintings mixed. One VAE serves two
structure-guided refiners: the plain one (for residual and refine) and one trained with the
conditional patch discriminator (train_refiner.py --adversarial_weight), which serves both
painting domains. On a pan over two other photographs (unseen), at alpha = 1 toward each domain,
it reports per method the deception rate (the share of frames a style classifier on VGG texture
descriptors takes for the domain's paintings, its negatives including frames recoloured to the
paintings' Lab statistics) beside the input frames' rate, edge correlation and sharpness against
the input, and the colour and VGG texture distances to the domain's held-out tiles relative to
the input's; PASS/FAIL against the paint targets. Writes doc/paint_side_by_side.png (input |
residual | paint, one painting and mixed). Skips when ../shared/data is absent.
"""

from __future__ import annotations

import dataclasses
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
    TRAIN_PHOTOS,
    UNSEEN_PHOTOS,
    cpu_summary,
    fitted_frames,
    pan,
    refiner_settings,
    train_vae_for_two,
    work_folder,
)

flags.DEFINE_string("painting", "candy.jpg", "The single-painting domain, from ../shared/data.")
flags.DEFINE_integer("vae_steps", 400, "VAE training steps.")
flags.DEFINE_integer("refiner_steps", 200, "Steps of the plain refiner.")
flags.DEFINE_integer("paint_steps", 300, "Steps of the adversarial refiner.")
flags.DEFINE_integer("batch_size", 16, "Training batch size (the adversarial refiner: half).")
flags.DEFINE_float("adversarial_weight", 0.005, "train_refiner.py --adversarial_weight.")
flags.DEFINE_float("content_weight", 0.005, "train_refiner.py --content_weight.")
flags.DEFINE_float(
    "sliced_wasserstein_weight", 0.02, "train_refiner.py --sliced_wasserstein_weight."
)
flags.DEFINE_list("body_filters", ["64", "64", "64"], "train_refiner.py --body_filters (paint).")
flags.DEFINE_bool("train_only", False, "Train (or resume) the runs and stop.")
flags.DEFINE_string("work_dir", None, "Keep the runs here (default: a temporary folder).")
FLAGS = flags.FLAGS
SIZE = (90, 160)
CLASSIFIER_TILES = 300
TARGETS = {  # the paint method's targets on unseen frames, one painting domain, alpha = 1
    "deception_rate": (">=", 0.6),
    "edge_correlation": (">=", 0.45),
    "texture_distance_ratio": ("<=", 0.4),
}


def train(work: Path) -> dict:
    """Data, a VAE, the plain and the adversarial refiner, and both exports; minutes taken."""
    from vaest.data.extract import extract
    from vaest.data.sources import Options, plan_domains
    from vaest.export.write import export
    from vaest.io.imaging import find_images
    from vaest.train.refiner import train_refiner

    photos = {p.stem: p for p in find_images(SHARED / "photos")}
    train_video = pan([photos[n] for n in TRAIN_PHOTOS], work / "train.mp4", (180, 320), 300, 1)
    pan([photos[n] for n in UNSEEN_PHOTOS], work / "unseen.mp4", (180, 320), 200, 2)
    one = work / "one"
    one.mkdir(exist_ok=True)
    shutil.copy(SHARED / "paintings" / FLAGS.painting, one / FLAGS.painting)
    plain, paint = work / "plain", work / "paint"
    minutes, started = {}, time.perf_counter()
    if not (plain / "data").exists():
        options = Options(image_size=SIZE, frame_stride=2, tiles_per_painting=150)
        paintings = [f"one={one}", f"mixed={SHARED / 'paintings'}"]
        extract(plan_domains([f"film={train_video}"], paintings, options), options, plain)
    train_vae_for_two(plain, paint, FLAGS.vae_steps, FLAGS.batch_size)
    minutes["data and vae"] = round((time.perf_counter() - started) / 60, 1)
    adversarial = {
        "adversarial_weight": FLAGS.adversarial_weight,
        "content_weight": FLAGS.content_weight,
        "sliced_wasserstein_weight": FLAGS.sliced_wasserstein_weight,
        "body_filters": tuple(int(x) for x in FLAGS.body_filters),
    }
    for run, steps, batch, overrides in (
        (plain, FLAGS.refiner_steps, FLAGS.batch_size, {}),
        (paint, FLAGS.paint_steps, FLAGS.batch_size // 2, adversarial),
    ):
        start = time.perf_counter()
        # saved every 50 steps, so that a stopped run still exports its newest checkpoint
        settings = dataclasses.replace(refiner_settings(steps, batch), save_every=50)
        train_refiner(run, settings, {"guide": "highpass", **overrides})
        minutes[f"{run.name} refiner"] = round((time.perf_counter() - start) / 60, 1)
        export(run)
    return minutes


def main(argv):
    if not SHARED.exists():
        print(f"skipped: {SHARED} is absent")
        return
    work = work_folder(FLAGS.work_dir, "vaest-paint-")
    print(cpu_summary())
    minutes = train(work)
    print(f"training minutes: {minutes}")
    if FLAGS.train_only:
        return
    measure(work, minutes)


def measure(work: Path, minutes: dict) -> None:
    """The method table on the unseen pan toward both painting domains, and the side-by-side."""
    from vaest.colour import lab_statistics, reinhard_transfer
    from vaest.data.preview import evenly_spaced
    from vaest.data.records import domain_images
    from vaest.export.read import Exported
    from vaest.io.grid import rows_grid
    from vaest.io.imaging import save_image
    from vaest.latent import Shift
    from vaest.measure import features, metrics
    from vaest.measure.deception import fit_painting_classifier
    from vaest.measure.style import style_figures
    from vaest.stylize.methods import stylize_by_method

    texture = features.TextureFeatures(features.default_weights_path())
    frames = fitted_frames(work / "unseen.mp4", SIZE, every=4)
    data = work / "plain" / "data"
    training_frames = domain_images(data, "train", "film")
    exported = {name: Exported.from_run(work / name) for name in ("plain", "paint")}
    report = {"cpu": cpu_summary(), "image_size": list(SIZE), "frames": len(frames)}
    report["training_minutes"] = minutes
    report["paint_refiner_step"] = exported["paint"].info["refiner_step"]
    shown = {}
    for domain in ("one", "mixed"):
        tiles = domain_images(data, "train", domain)
        # the classifier and the Reinhard statistics take at most CLASSIFIER_TILES, evenly spaced
        tiles = tiles[sorted(evenly_spaced(len(tiles), CLASSIFIER_TILES))]
        held_tiles = domain_images(data, "val", domain)
        classifier = fit_painting_classifier(texture, tiles, training_frames)
        colours = metrics.colour_statistics(held_tiles)
        tile_texture = features.texture_statistics(texture, held_tiles)
        outputs = {}
        for name, run in exported.items():
            source = run.encode(frames)[0].mean(axis=0)  # --source auto
            shift = Shift.toward(source, run.domain(domain).centroid, 1.0)
            outputs[name] = stylize_by_method(run, frames, shift)
        methods = {
            "reinhard": reinhard_transfer(frames, lab_statistics(tiles)),
            "split": outputs["plain"]["split"],
            "residual": outputs["plain"]["residual"],
            "refine": outputs["plain"]["refine"],
            "paint": outputs["paint"]["paint"],
        }
        for method, images in methods.items():
            report[f"{domain} {method}"] = style_figures(
                images, frames, colours, texture, tile_texture, classifier
            )
        shown[domain] = (frames, methods["residual"], methods["paint"])
    print(json.dumps(report, indent=2))
    print_table(report)
    picks = np.linspace(0, len(frames) - 1, 3).round().astype(int)
    rows = [np.concatenate([c[i] for c in shown[d]], 1)[None] for d in shown for i in picks]
    path = ROOT / "doc" / "paint_side_by_side.png"
    save_image(rows_grid(rows), path)
    (work / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path} (rows: {FLAGS.painting} x3, mixed x3); runs in {work}")


def print_table(report: dict) -> None:
    names = (
        "deception_rate", "input_deception_rate", "edge_correlation", "sharpness",
        "colour_distance_ratio", "texture_distance_ratio",
    )  # fmt: skip
    print("\nunseen pan, alpha = 1: " + " | ".join(names))
    for domain in ("one", "mixed"):
        for method in ("reinhard", "split", "residual", "refine", "paint"):
            row = report[f"{domain} {method}"]
            cells = [f"{row[n]:6.3f}" if isinstance(row.get(n), float) else str(row.get(n))
                     for n in names]  # fmt: skip
            print(f"  {domain:6s} {method:9s} " + " ".join(cells))
    paint = report["one paint"]
    for name, (sense, bound) in TARGETS.items():
        value = paint.get(name)
        ok = isinstance(value, float) and (value >= bound if sense == ">=" else value <= bound)
        print(f"  target {name} {sense} {bound}: {value} {'PASS' if ok else 'FAIL'}")
    rate, base = paint.get("deception_rate"), paint.get("input_deception_rate")
    if isinstance(rate, float) and isinstance(base, float):
        ok = rate > 0 and rate >= 4 * base
        print(f"  target deception >= 4x input's ({base:.3f}): {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    app.run(main)
