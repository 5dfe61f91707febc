"""Flicker of every stylizing method, with and without stabilisation, on real motion.

Trains (or reuses, with --work_dir) a 90x160 run on the paintings of ../shared/data plus a video
panned over two of its photos, then stylizes clips the model never saw:
- a pan over the other two photos (rigid motion);
- ../shared/data/videos/tree.avi, a tree in the wind (non-rigid motion, occlusions);
- a static shot (one photo held for 100 frames with camera noise), for the long-term error.

For each method (residual, refine, split) and stabilisation (none, flow, latent) it prints the
flow-warped temporal error (Lai et al. 2018) against the clip's own, the edge correlation with
the input (ghosting shows as a drop), and, end to end through mogrify at 320x180 output, the
share of the time that flow stabilisation costs. Writes doc/temporal_error.png: the per-frame
error on tree.avi with and without stabilisation. Skips when ../shared/data is absent.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import app, flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from common import (  # noqa: E402
    SHARED,
    UNSEEN_PHOTOS,
    begin,
    cpu_summary,
    define_training_flags,
    films,
    pan,
    shared_photos,
    train_run,
)

define_training_flags(700, 300, "90x160")
flags.DEFINE_integer("frames", 150, "Frames of each clip to measure.")
flags.DEFINE_float("weight", 0.7, "Flow stabilisation weight w.")
flags.DEFINE_list("clips", ["pan", "tree", "static"], "Clips to measure: pan, tree, static.")
FLAGS = flags.FLAGS

STABILISATIONS = ("none", "flow", "latent")
TARGETS = {
    "default method + flow, ratio to the source": ("<=", 1.0),
    "flow cost, share of end-to-end time": ("<=", 0.15),
    "ghosting, edge correlation drop": ("<=", 0.02),
}


def static_shot(photo: Path, path: Path, frames: int) -> Path:
    """One photo held still, with a little camera noise, as a lossless H.264 clip at 320x180
    (lossy coding would itself drift away from the first frame over a group of pictures)."""
    from vaest.io import video_out
    from vaest.io.imaging import fit_image, load_image

    still = fit_image(load_image(photo), (180, 320)).astype(np.float32)
    rng = np.random.default_rng(0)
    with video_out.VideoWriter(path, fps=25, size=(180, 320), crf=0) as writer:
        for _ in range(frames):
            writer.write(np.clip(still + rng.normal(0, 1.5, still.shape), 0, 255).astype(np.uint8))
    return path


def measure_clip(exported, clip: Path, count: int, weight: float) -> dict:
    """Per method and stabilisation: temporal figures, edge correlation and per-frame errors."""
    from vaest.evaluate.flicker import clip_frames
    from vaest.flow import TemporalMeter, long_term_error
    from vaest.latent import Shift
    from vaest.measure.metrics import edge_correlation
    from vaest.stylize.methods import COMPARED_METHODS
    from vaest.stylize.stabilize import FlowStabilizer
    from vaest.stylize.stylizer import Stylizer

    frames = clip_frames(exported, clip, count)
    means = exported.encode(frames)[0]
    target = exported.domain(exported.painting_domains()[0]).centroid
    shift = Shift.toward(means.mean(axis=0), target, 1.0)
    found = {}
    for method in COMPARED_METHODS:
        for kind in STABILISATIONS:
            stabilizer = FlowStabilizer(weight) if kind == "flow" else None
            smoothing = 0.5 if kind == "latent" else 0.0
            stylizer = Stylizer(
                exported, shift, smoothing=smoothing, method=method, stabilizer=stabilizer
            )
            outputs = np.concatenate(
                [stylizer(frames[i : i + 8], means[i : i + 8]) for i in range(0, len(frames), 8)]
            )
            meter = TemporalMeter()
            for frame, output in zip(frames, outputs, strict=True):
                meter.add(frame, output)
            figures = meter.figures()
            figures["edge_correlation"] = float(np.mean(edge_correlation(outputs, frames)))
            figures["per_frame"] = meter.output_errors().per_pair.tolist()
            figures["long_term"] = long_term_error(outputs, frames).per_pair.tolist()
            found[f"{method}+{kind}"] = figures
    found["input"] = {"long_term": long_term_error(frames, frames).per_pair.tolist()}
    return found


def end_to_end_cost(exported, run: Path, clip: Path, count: int, weight: float) -> dict:
    """Frames/s of mogrify at 320x180 output, with and without flow stabilisation, interleaved."""
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run as stylize_run
    from vaest.stylize.settings import Settings

    seconds = {"none": [], "flow": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(3):
            for kind in seconds:
                settings = Settings(
                    temporal=kind, flow_blend=weight, max_frames=count,
                    output_size="320x180", source="none",
                )  # fmt: skip
                job = make_job(settings, clip, Path(tmp) / f"{kind}-{round_}.mp4", run)
                started = time.perf_counter()
                stylize_run(make_plan(job, exported), exported)
                seconds[kind].append(time.perf_counter() - started)
    best = {kind: min(values) for kind, values in seconds.items()}
    return {
        "frames": count,
        "fps_none": count / best["none"],
        "fps_flow": count / best["flow"],
        "flow_share_of_time": (best["flow"] - best["none"]) / best["flow"],
    }


def plot(per_frame: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), dpi=100)
    ax = fig.add_subplot()
    for label, values in per_frame.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label, lw=1.2)
    ax.set_xlabel("frame of tree.avi")
    ax.set_ylabel("flow-warped error (mean squared RGB, visible pixels)")
    ax.set_title("Flicker frame by frame: the default method with and without flow stabilisation")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main(argv):
    work = begin(FLAGS.work_dir, "vaest-temporal-")
    if work is None:
        return
    from vaest.export.read import Exported
    from vaest.io.imaging import parse_size

    size = parse_size(FLAGS.image_size)
    train_video, _ = films(work, (180, 320), 300)
    photos = shared_photos()
    run = work / "run"
    train_run(run, [f"film={train_video}"], size, FLAGS.vae_steps, FLAGS.refiner_steps,
              FLAGS.batch_size)  # fmt: skip
    exported = Exported.from_run(run)
    makers = {
        "pan": lambda: pan(
            [photos[n] for n in UNSEEN_PHOTOS], work / "unseen.mp4", (180, 320), FLAGS.frames, 2
        ),
        "tree": lambda: SHARED / "videos" / "tree.avi",
        "static": lambda: static_shot(photos["tubingen"], work / "static.mp4", 100),
    }
    names = {"pan": "photo pan", "tree": "tree.avi", "static": "static shot"}
    clips = {names[key]: makers[key]() for key in FLAGS.clips}
    report = {"cpu": cpu_summary(), "image_size": list(size), "weight": FLAGS.weight}
    for name, clip in clips.items():
        report[name] = measure_clip(exported, clip, FLAGS.frames, FLAGS.weight)
    tree = SHARED / "videos" / "tree.avi"
    report["end to end"] = end_to_end_cost(exported, run, tree, 150, FLAGS.weight)

    print("\nratio = output's flow-warped error / the input clip's own (1.0: as stable as it)")
    print(f"{'clip':12s} {'method':18s} {'ratio':>7s} {'edges':>6s} {'long-term first/last':>22s}")
    for name in clips:
        for key, figures in report[name].items():
            if key == "input":
                continue
            long_term = figures["long_term"]
            ends = f"{np.mean(long_term[:10]):.2e}/{np.mean(long_term[-10:]):.2e}"
            print(f"{name:12s} {key:18s} {figures['ratio']:7.2f} "
                  f"{figures['edge_correlation']:6.3f} {ends:>22s}")  # fmt: skip
    cost = report["end to end"]
    print(
        f"\nend to end at 320x180 output (tree.avi, {cost['frames']} frames, best of 3): "
        f"{cost['fps_none']:.1f} frames/s without stabilisation (baseline), "
        f"{cost['fps_flow']:.1f} with flow: {cost['flow_share_of_time']:.1%} of the time"
    )

    moving = [n for n in ("photo pan", "tree.avi") if n in report]
    checks = {"flow cost, share of end-to-end time": cost["flow_share_of_time"]}
    if moving:
        checks["default method + flow, ratio to the source"] = max(
            report[n]["residual+flow"]["ratio"] for n in moving
        )
        checks["ghosting, edge correlation drop"] = max(
            report[n]["residual+none"]["edge_correlation"]
            - report[n]["residual+flow"]["edge_correlation"]
            for n in moving
        )
    print("\ntargets:")
    for name, value in checks.items():
        sense, bound = TARGETS[name]
        met = value <= bound
        print(f"  {name:44s} {value:7.3f} {sense} {bound}: {'PASS' if met else 'FAIL'}")
    if "static shot" in report:
        static = np.array(report["static shot"]["residual+flow"]["long_term"])
        source = np.array(report["static shot"]["input"]["long_term"])
        first, last = np.mean(static[:10]), np.mean(static[-10:])
        grows = last > 1.5 * first
        print(
            f"  {'static shot: long-term error grows over 100 frames':44s} "
            f"{'FAIL' if grows else 'PASS'} ({first:.2e} -> {last:.2e}; the source's own "
            f"{np.mean(source[:10]):.2e} -> {np.mean(source[-10:]):.2e})"
        )
    if "tree.avi" in report:
        plot(
            {k: report["tree.avi"][f"residual+{k}"]["per_frame"] for k in STABILISATIONS},
            ROOT / "doc" / "temporal_error.png",
        )
    summary = {n: {k: {f: v for f, v in figs.items() if f not in ("per_frame", "long_term")}
                   for k, figs in report[n].items() if k != "input"} for n in clips}  # fmt: skip
    (work / "temporal.json").write_text(json.dumps(summary | {"end to end": cost}, indent=2))
    print(f"\nwrote {ROOT / 'doc' / 'temporal_error.png'} and {work / 'temporal.json'}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    app.run(main)
