"""`make demo`: the seven steps in order, on the embedded sample or on the user's own data.

Each step runs as its script, exactly as a user would type it, into one run directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from absl import flags

from vaest import cli
from vaest.errors import UserError
from vaest.io.video_out import read_comment
from vaest.measure.painter_gate import figures_line
from vaest.run_dir import EXPORT_INFO, MANIFEST, METRICS, RunDir
from vaest.stylize.settings import parse_record

ROOT = Path(__file__).resolve().parents[1]
SIDE_BY_SIDE_FRAMES = 4
# Each training gets a time budget (its --minutes) and stops at it or at its asked steps; the
# step it reached is kept, so that a rerun resumes to it. The other steps take the remainder.
TRAINING_SHARE = 0.4  # of --minutes: the VAE's and the refiner's, split as their asked steps
PAINTER_SHARE = 0.25  # of --minutes: the painter's training
BUDGET = "demo_budget.json"


def define_flags() -> None:
    flags.DEFINE_string("run_dir", "runs/demo", "Run directory for every step.")
    flags.DEFINE_string("image_size", "72x128", "Model size, HEIGHTxWIDTH.")
    flags.DEFINE_integer("vae_steps", 1500, "VAE training steps.")
    flags.DEFINE_integer("refiner_steps", 400, "Refiner training steps.")
    flags.DEFINE_integer(
        "painter_steps", 600,
        "Painter training steps, at most: with --minutes its share of the budget may end it "
        "first (on 2 CPU cores, 3.75 minutes at 180x320 are about 240 steps).",
    )  # fmt: skip
    flags.DEFINE_string(
        "paint_data_size", "180x320",
        "HxW of the paint data (the sample's own size): extract_tiles.py --paint_data_size.",
    )  # fmt: skip
    flags.DEFINE_integer("batch_size", 16, "Training batch size.")
    flags.DEFINE_integer("frame_stride", 2, "Keep every Nth video frame for training.")
    flags.DEFINE_integer("tiles_per_painting", 32, "Random tiles per painting.")
    flags.DEFINE_string("video", None, "Your own video (default: the generated sample's).")
    flags.DEFINE_string("paintings", None, "Your own paintings folder (default: the sample's).")
    # A few minutes of CPU training give a latent space where the paintings' palette shows
    # clearly from about alpha = 2 (see RUN/eval/shift_strengths.png).
    flags.DEFINE_float("strength", 2.0, "Style strength alpha for mogrify_video.py.")
    flags.DEFINE_list("mogrify_flags", [], "Extra flags for mogrify_video.py, comma-separated.")
    flags.DEFINE_float(
        "minutes", 15.0,
        "Time budget of the whole demo: on a slow CPU the trainings take fewer steps than asked "
        "(never more), and the demo prints what it chose; 0 = always the asked steps.",
    )  # fmt: skip


def step(name: str, script: str, *args: str) -> float:
    """Run one pipeline script; stop the demo with its message if it fails. Returns seconds."""
    print(f"\n== {name}: python {script} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT)
    if done.returncode != 0:
        raise UserError(f"{script} failed (exit {done.returncode}); see its message above")
    seconds = time.perf_counter() - started
    print(f"== {name}: {seconds:.0f} s", flush=True)
    return seconds


def training_minutes(settings) -> dict[str, float]:
    """The trainings' time budgets in minutes, each a share of --minutes (0: no budget)."""
    asked = settings.vae_steps + settings.refiner_steps
    trainings = TRAINING_SHARE * settings.minutes
    return {
        "vae": trainings * settings.vae_steps / asked,
        "refiner": trainings * settings.refiner_steps / asked,
        "painter": PAINTER_SHARE * settings.minutes,
    }


def train_to_budget(run: Path, key: str, steps: int, minutes: float, name: str, *command: str):
    """Run a training (`command`: its script and arguments) to `steps`, or for `minutes` when
    that is more than 0. The step its model folder RUN/<key> reached is kept in
    RUN/demo_budget.json as <key>_steps, so that a rerun resumes to it instead of training for
    another share."""
    from vaest.train.checkpoints import latest_step

    record = run / BUDGET
    chosen = json.loads(record.read_text()) if record.exists() else {}
    budget = []
    if f"{key}_steps" in chosen:
        steps = chosen[f"{key}_steps"]
    elif minutes > 0:
        budget = [f"--minutes={minutes:.3g}"]
    step(name, *command, f"--steps={steps}", *budget)
    if budget:
        reached = chosen[f"{key}_steps"] = latest_step(run / key)
        record.write_text(json.dumps(chosen) + "\n")
        print(f"== budget: {name} reached step {reached} of {steps} in its {minutes:.3g} "
              "minutes", flush=True)  # fmt: skip


def side_by_side(original: Path, stylized: Path, out: Path, count: int = SIDE_BY_SIDE_FRAMES):
    """A PNG of a few frames: the original on the left, the stylized frame on the right."""
    from vaest.io.grid import rows_grid
    from vaest.io.imaging import resize, save_image
    from vaest.io.video import count_frames, iter_frames

    total = count_frames(stylized)
    wanted = {int(i) for i in np.linspace(0, total - 1, count + 2)[1:-1].round()}
    pairs = []
    for index, (a, b) in enumerate(zip(iter_frames(original), iter_frames(stylized), strict=False)):
        if index in wanted:
            pairs.append([a, resize(b, *a.shape[:2])])
    save_image(rows_grid([np.stack(p) for p in pairs]), out)
    return out


def run_demo(settings) -> dict:
    run = Path(settings.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    folders = RunDir(run)
    video, paintings = settings.video, settings.paintings
    if bool(video) != bool(paintings):
        raise UserError("give both VIDEO and PAINTINGS, or neither for the embedded sample")
    if not video:
        from vaest.data.sample import make_sample

        print("== sample: making the embedded sample (python -m vaest.data.sample)", flush=True)
        sample = make_sample(run / "sample")
        video, paintings = str(sample["video"]), str(sample["paintings"])
    for path in (video, paintings):
        cli.require_file(path, "demo input")

    asked = {
        "video": str(Path(video).resolve()),
        "paintings": str(Path(paintings).resolve()),
        "image_size": settings.image_size,
        "frame_stride": settings.frame_stride,
        "tiles_per_painting": settings.tiles_per_painting,
    }
    record = run / "demo.json"
    if not record.exists() or json.loads(record.read_text()) != asked:
        # Other inputs than last time: start the run afresh (the sample itself is kept).
        for folder in folders.stages():
            shutil.rmtree(folder, ignore_errors=True)
        (run / BUDGET).unlink(missing_ok=True)
        record.write_text(json.dumps(asked, indent=2) + "\n")

    rd = f"--run_dir={run}"
    if not (folders.data / MANIFEST).exists():
        step(
            "1 extract", "extract_tiles.py", rd, f"--video=clip={video}",
            f"--paintings=art={paintings}", f"--image_size={settings.image_size}",
            f"--frame_stride={settings.frame_stride}",
            f"--tiles_per_painting={settings.tiles_per_painting}",
            f"--paint_data_size={settings.paint_data_size}",
        )  # fmt: skip
    step("2 preview", "preview_tiles.py", rd)
    batch = f"--batch_size={settings.batch_size}"
    # Saves and previews follow the asked steps, so that a budget changes nothing but the length.
    vae_args = [
        rd, batch, "--learning_rate=5e-4", f"--save_every={max(1, settings.vae_steps // 3)}",
        f"--preview_every={max(1, settings.vae_steps // 6)}",
    ]  # fmt: skip
    minutes = training_minutes(settings)
    train_to_budget(
        run, "vae", settings.vae_steps, minutes["vae"], "3 train VAE", "train_vae.py", *vae_args
    )
    train_to_budget(
        run, "refiner", settings.refiner_steps, minutes["refiner"], "4 train refiner",
        "train_refiner.py", rd, batch, "--learning_rate=5e-4",
        f"--save_every={max(1, settings.refiner_steps // 2)}",
        f"--preview_every={max(1, settings.refiner_steps // 2)}",
    )  # fmt: skip
    train_to_budget(
        run, "painter", settings.painter_steps, minutes["painter"], "4 train painter",
        "train_refiner.py", rd, "--painter",
    )  # fmt: skip
    step("5 export", "export_graphs.py", rd)
    step("6 evaluate", "evaluate_latents.py", rd)
    stylized = folders.out / "demo-stylized.mp4"
    stylized.parent.mkdir(exist_ok=True)
    step(
        "7 mogrify", "mogrify_video.py", rd, f"--input={video}", f"--output={stylized}",
        f"--strength={settings.strength}",
        *[f"--{f.lstrip('-')}" for f in settings.mogrify_flags],
    )  # fmt: skip
    pairs = side_by_side(Path(video), stylized, folders.out / "side_by_side.png")
    plots = sorted(folders.eval.glob("*.png"))
    record = parse_record(read_comment(stylized)) or {}
    method = record.get("settings", {}).get("method", "?")
    print("\nThe demo is done:")
    print(f"  stylized video (with sound): {stylized}")
    print(f"  method (--method auto):      {method}, as {record.get('method_reason', '?')}")
    if folders.painter.exists():
        info = json.loads((folders.export / EXPORT_INFO).read_text())
        print(f"  painter, held-out frames:    {figures_line(info.get('painter_figures'))}")
    print(f"  original | stylized frames:  {pairs}")
    print(f"  evaluation plots:            {', '.join(str(p) for p in plots)}")
    print(f"  evaluation figures:          {folders.eval / METRICS}")
    return {"video": stylized, "side_by_side": pairs, "plots": plots}


def main(argv):
    run_demo(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    cli.run(main)
