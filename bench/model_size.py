"""Which model size should be the default: quality at the output size for equal training time.

The structure-keeping methods take the fine detail from the frame, so the model can run smaller
than the output and its change be upsampled along the frame's edges (--upsample guided). This
trains one run per model size (180x320, 90x160, 72x128) on the same data (a pan over two
photographs of ../shared/data as the film, one painting as the domain) for the same minutes of
this machine's time, in turns of CHUNK steps so that a busy spell hits every size alike (the
VAE takes --vae_share of the time, the refiner the rest). Then it stylizes a pan over two other
photographs (unseen) at 320x180 output with mogrify's default settings (residual, flow
stabilisation, guided upsampling, alpha = 1) and reports, at the output size: edge correlation
and sharpness against the input, colour and VGG texture distance ratios to the painting's
tiles, the deception rate, and the end-to-end frames/s of that run. Skips when ../shared/data
is absent.
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
import common  # noqa: E402

flags.DEFINE_float("minutes", 6.0, "Training minutes per model size (this machine's wall time).")
flags.DEFINE_float("vae_share", 0.8, "Share of the minutes for the VAE; the refiner gets the rest.")
flags.DEFINE_string("painting", "candy.jpg", "The painting domain, from ../shared/data.")
flags.DEFINE_list("sizes", ["180x320", "90x160", "72x128"], "Model sizes, HEIGHTxWIDTH.")
flags.DEFINE_string("work_dir", None, "Keep the runs here (default: a temporary folder).")
FLAGS = flags.FLAGS
OUTPUT = (180, 320)
BATCH = 8
CHUNK = 25  # steps per training call: the budget is checked between calls


def train_round_robin(train, runs: list[Path], settings_of, seconds: float) -> dict:
    """Train every run in turn, CHUNK steps per call (each call resumes), until each has spent
    `seconds` of wall time: a busy spell on the machine hits every size alike. Steps made."""
    spent, steps = dict.fromkeys(runs, 0.0), dict.fromkeys(runs, 0)
    while any(spent[run] < seconds for run in runs):
        for run in runs:
            if spent[run] >= seconds:
                continue
            start = time.perf_counter()
            steps[run] += CHUNK
            train(run, settings_of(steps[run], BATCH))
            spent[run] += time.perf_counter() - start
    return steps


def train_sizes(work: Path, sizes, video: Path, painting: Path) -> dict:
    """{size: {run, vae_steps, refiner_steps}}, each exported."""
    from vaest.data.extract import extract
    from vaest.data.sources import Options, plan_domains
    from vaest.export.write import export
    from vaest.train.refiner import train_refiner
    from vaest.train.vae import train_vae

    runs = {}
    for size in sizes:
        run = runs[size] = work / f"{size[0]}x{size[1]}"
        if not (run / "data").exists():
            options = Options(image_size=size, frame_stride=2, tiles_per_painting=150)
            extract(plan_domains([f"film={video}"], [f"art={painting}"], options), options, run)
    seconds = FLAGS.minutes * 60
    order = list(runs.values())
    vae_steps = train_round_robin(train_vae, order, common.vae_settings, FLAGS.vae_share * seconds)
    refiner_steps = train_round_robin(
        train_refiner, order, common.refiner_settings, (1 - FLAGS.vae_share) * seconds
    )
    for run in order:
        export(run)
    return {
        size: {"run": run, "vae_steps": vae_steps[run], "refiner_steps": refiner_steps[run]}
        for size, run in runs.items()
    }


def main(argv):
    work = common.begin(FLAGS.work_dir, "vaest-size-")
    if work is None:
        return
    from vaest.export.read import Exported
    from vaest.io.video import iter_frames
    from vaest.measure import features
    from vaest.measure.style import style_figures
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run as stylize_run
    from vaest.stylize.settings import Settings

    video, unseen = common.films(work, OUTPUT, 300, 100)
    art = work / "art"
    art.mkdir(exist_ok=True)
    shutil.copy(common.SHARED / "paintings" / FLAGS.painting, art / FLAGS.painting)
    sizes = [tuple(int(v) for v in s.split("x")) for s in FLAGS.sizes]
    runs = train_sizes(work, sizes, video, art)

    # The judge works at the output size: tiles and frames of the largest run's data.
    judge = runs[max(sizes)]["run"] / "data"
    texture = features.TextureFeatures(features.default_weights_path())
    _, classifier, colours, tile_texture = common.painting_judge(judge, texture)
    inputs = np.stack(list(iter_frames(unseen))).astype(np.float32) / 255.0
    report = {"cpu": common.cpu_summary(), "minutes_per_size": FLAGS.minutes, "sizes": {}}
    for size, trained in runs.items():
        out = work / f"out-{size[0]}x{size[1]}.mp4"
        job = make_job(Settings(), unseen, out, trained["run"])
        exported = Exported.from_run(trained["run"])
        result = stylize_run(make_plan(job, exported), exported)
        outputs = np.stack(list(iter_frames(out))).astype(np.float32) / 255.0
        figures = style_figures(outputs, inputs, colours, texture, tile_texture, classifier)
        row = {k: trained[k] for k in ("vae_steps", "refiner_steps")}
        row.update(figures, frames_per_second=round(result.fps, 2))
        report["sizes"][f"{size[0]}x{size[1]}"] = row
    print(json.dumps(report, indent=2))
    names = ("edge_correlation", "sharpness", "colour_distance_ratio", "texture_distance_ratio",
             "deception_rate", "input_deception_rate", "frames_per_second")  # fmt: skip
    print(f"\n{FLAGS.minutes} min of training per size; output 320x180: " + " | ".join(names))
    for name, row in report["sizes"].items():
        cells = [f"{row[n]:6.3f}" if isinstance(row[n], float) else str(row[n]) for n in names]
        print(f"  {name:8s} ({row['vae_steps']}+{row['refiner_steps']} steps) " + " ".join(cells))
    (work / "report.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    app.run(main)
