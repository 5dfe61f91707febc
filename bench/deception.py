"""The style classifier behind the deception rate: does a colour grade pass for a painting?

For every painting of ../shared/data as its own domain, and all eleven mixed, it fits the
classifier two ways on the same data at the model size:
- before: negatives are the frames and the frames Reinhard-transferred to the paintings' pooled
  palette (the recipe the classifier had first);
- after: vaest.measure.deception.fit_painting_classifier, whose negatives are the frames, a
  grading of each and graded photographs (vaest.measure.negatives);
and scores frames it never saw (a pan over the two other photographs, and tree.avi):
(a) the frames themselves, (b) the frames Reinhard-transferred toward the painting, (c) held-out
crops of the painting, (d) the frames graded by vaest.measure.negatives toward held-out crops.
(a), (b) and (d) should be near 0 and (c) near 1. It also prints the time each fit takes (VGG
descriptors included). Paintings are cut into random crops as extract_tiles.py does; a quarter
of them, at random, are held out. Skips when ../shared/data is absent.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from absl import app, flags

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, begin, cpu_summary, films, fitted_frames  # noqa: E402

flags.DEFINE_string("image_size", "72x128", "Model size: the classifier's images.")
flags.DEFINE_integer("tiles", 100, "Random crops of each painting (a quarter held out).")
flags.DEFINE_list("paintings", [], "Painting file stems to measure (default: all, and mixed).")
flags.DEFINE_string("work_dir", None, "Keep the clips here (default: a temporary folder).")
FLAGS = flags.FLAGS
MIXED_TILES = 300  # crops of the mixed domain, evenly spaced over all paintings' crops
TARGETS = {"reinhard": ("<=", 0.1), "held-out crops": (">=", 0.9)}


def painting_crops(path: Path, size, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training crops, held-out crops) of one painting at `size`, uint8."""
    from vaest.io.imaging import load_image, resize, tile_boxes

    painting = load_image(path)
    rng = np.random.default_rng(seed)
    crops = np.stack(
        [
            resize(np.ascontiguousarray(painting[t : t + h, x : x + w]), *size)
            for t, x, h, w in tile_boxes(painting.shape[:2], size, count, rng)
        ]
    )
    held = rng.permutation(count) < count // 4
    return crops[~held], crops[held]


def rates(classifier, descriptors: dict) -> dict:
    from vaest.measure.deception import deception_rate

    found = {name: deception_rate(classifier, rows) for name, rows in descriptors.items()}
    found["held-out balanced accuracy"] = classifier.balanced_accuracy
    return found


def measure_domain(texture, tiles, held, frames, unseen, unseen_rows) -> dict:
    """Rates of the classifier before and after, and the seconds each fit took."""
    from vaest.colour import lab_statistics, reinhard_transfer
    from vaest.measure.deception import (
        fit_painting_classifier,
        fit_style_classifier,
        negatives_with_recoloured,
    )
    from vaest.measure.features import style_descriptors
    from vaest.measure.negatives import recoloured_frames

    started = time.perf_counter()
    palette = lab_statistics(tiles)
    negatives = negatives_with_recoloured(
        style_descriptors(texture, frames),
        style_descriptors(texture, reinhard_transfer(frames, palette)),
    )
    before = fit_style_classifier(style_descriptors(texture, tiles), negatives)
    before_seconds = time.perf_counter() - started
    started = time.perf_counter()
    after = fit_painting_classifier(texture, tiles, frames)
    after_seconds = time.perf_counter() - started

    scored = {
        "(a) frames": unseen_rows,
        "(b) reinhard": style_descriptors(texture, reinhard_transfer(unseen, palette)),
        "(c) held-out crops": style_descriptors(texture, held),
        "(d) graded": style_descriptors(texture, recoloured_frames(unseen, held, copies=1, seed=1)),
    }
    return {
        "before": rates(before, scored) | {"seconds": before_seconds},
        "after": rates(after, scored) | {"seconds": after_seconds},
    }


def main(argv):
    work = begin(FLAGS.work_dir, "vaest-deception-")
    if work is None:
        return
    from vaest.data.preview import evenly_spaced
    from vaest.io.imaging import find_images, parse_size
    from vaest.measure import features

    size = parse_size(FLAGS.image_size)
    train_video, unseen_video = films(work, (180, 320), 200, 200)
    frames = fitted_frames(train_video, size, every=2)
    unseen = np.concatenate(
        [
            fitted_frames(unseen_video, size, every=4),
            fitted_frames(SHARED / "videos" / "tree.avi", size, every=9),
        ]
    )
    texture = features.TextureFeatures(features.default_weights_path())
    unseen_rows = features.style_descriptors(texture, unseen)

    paintings = sorted(find_images(SHARED / "paintings"))
    crops = {
        p.stem: painting_crops(p, size, FLAGS.tiles, seed)
        for seed, p in enumerate(paintings)
        if not FLAGS.paintings or p.stem in FLAGS.paintings
    }
    domains = dict(crops)
    if not FLAGS.paintings:
        tiles, held = (np.concatenate([c[part] for c in crops.values()]) for part in (0, 1))
        domains["mixed"] = (tiles[sorted(evenly_spaced(len(tiles), MIXED_TILES))], held)
    report = {
        "cpu": cpu_summary(), "image_size": list(size), "training frames": len(frames),
        "unseen frames": len(unseen),
    }  # fmt: skip
    for name, (tiles, held) in domains.items():
        report[name] = measure_domain(texture, tiles / 255.0, held, frames, unseen, unseen_rows)
        print_domain(name, report[name], len(tiles), len(held))
    (work / "deception.json").write_text(json.dumps(report, indent=2) + "\n")
    summary(report, domains)


def print_domain(name: str, found: dict, tiles: int, held: int) -> None:
    columns = ["(a) frames", "(b) reinhard", "(c) held-out crops", "(d) graded"]
    print(f"\n{name} ({tiles} crops, {held} held out):")
    print(
        f"  {'':7s} " + " ".join(f"{c:>18s}" for c in columns) + f" {'bal. acc.':>9s} {'fit s':>6s}"
    )
    for when in ("before", "after"):
        row = found[when]
        cells = " ".join(
            f"{'-' if row[c] is None else format(row[c], '.2f'):>18s}" for c in columns
        )
        accuracy = row["held-out balanced accuracy"]
        print(f"  {when:7s} {cells} {accuracy or 0:9.2f} {row['seconds']:6.1f}")


def summary(report: dict, domains: dict) -> None:
    for when in ("before", "after"):
        rows = [report[name][when] for name in domains]
        worst_reinhard = max(r["(b) reinhard"] or 0 for r in rows)
        worst_crops = min(r["(c) held-out crops"] or 0 for r in rows)
        seconds = np.mean([r["seconds"] for r in rows])
        print(
            f"\n{when}: worst Reinhard {worst_reinhard:.2f} (target <= 0.1), worst held-out "
            f"crops {worst_crops:.2f} (target >= 0.9), fit {seconds:.1f} s on average "
            "(machine shared: wall-clock inflated)"
        )


if __name__ == "__main__":
    app.run(main)
