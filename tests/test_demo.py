"""`make demo`, scaled down: the seven scripts end to end on the generated sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaest.io.video_out import read_comment, stream_info
from vaest.measure.painter_gate import figures_line, painter_verdict
from vaest.stylize.settings import parse_record

ROOT = Path(__file__).resolve().parents[1]
EVAL_FILES = (
    "metrics.json",
    "reconstructions.png",
    "latent_pca.png",
    "shift_strengths.png",
    "interpolation.png",
)


def test_scaled_down_demo_runs_every_step(tmp_path):
    run = tmp_path / "demo"
    args = [
        "--image_size=36x64",
        "--vae_steps=6",
        "--refiner_steps=4",
        "--batch_size=8",
        "--frame_stride=6",
        "--tiles_per_painting=4",
        "--painter_steps=2",
        "--paint_data_size=72x128",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "vaest.demo", f"--run_dir={run}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last_lines = done.stdout.strip().splitlines()[-6:]
    video = run / "out" / "demo-stylized.mp4"
    pairs = run / "out" / "side_by_side.png"
    assert any(str(video) in line for line in last_lines)
    assert any(str(pairs) in line for line in last_lines)

    source = stream_info(run / "sample" / "content.mp4")
    out = stream_info(video)
    assert out["frames"] == source["frames"]
    assert (out["width"], out["height"]) == (source["width"], source["height"])
    assert out["has_audio"] and abs(out["audio_duration"] - source["duration"]) < 0.1
    for name in EVAL_FILES:
        assert (run / "eval" / name).stat().st_size > 0, name
    sheet = np.asarray(Image.open(pairs))
    # Original | stylized, side by side: twice the source width per row.
    assert sheet.shape[1] >= 2 * source["width"] and sheet.std() > 10
    # Each step left its output where the next one looks for it.
    for part in ("data/manifest.json", "vae/config.json", "refiner/config.json", "export"):
        assert (run / part).exists(), part
    # The painter trained, the export measured it, and --method auto followed the verdict; the
    # demo says which method it took and why.
    assert (run / "painter" / "config.json").exists()
    info = json.loads((run / "export" / "export.json").read_text())
    paints, why = painter_verdict(info["painter_figures"])
    record = parse_record(read_comment(video))
    assert record["settings"]["method"] == ("paint" if paints else "residual")
    assert record["method_reason"] == why and record["export"]["painter_step"] == 2
    assert any(line.startswith("  method (--method auto):") for line in last_lines)
    assert f"  painter, held-out frames:    {figures_line(info['painter_figures'])}" in last_lines


def test_demo_budget_shortens_training_on_a_slow_machine_and_never_lengthens_it():
    from vaest.demo import TRAINING_SHARE, budget_steps

    # A machine at 6 steps/s: the trainings' share of 15 minutes holds the asked 1,500 + 400.
    assert budget_steps(1500, 400, 6.0, 15) == (1500, 400)
    # A 2-core AVX2 laptop at 0.5 steps/s: the trainings fit their share of the budget.
    vae, refiner = budget_steps(1500, 400, 0.5, 15)
    assert (vae + refiner) / 0.5 <= TRAINING_SHARE * 15 * 60 + 1
    assert 100 < vae < 1500 and vae / refiner == pytest.approx(1500 / 400, rel=0.02)
    assert budget_steps(1500, 400, 0.001, 15) == (1, 1)  # always at least one step


def test_demo_times_two_chunks_then_keeps_its_choice(tmp_path, monkeypatch):
    """The rate comes from two chunks of training whose start-up costs cancel; a rerun reuses
    the choice instead of timing again (training resumes to the same step counts)."""
    from types import SimpleNamespace

    from vaest import demo

    calls = []

    def timed_step(name, script, *args):
        calls.append(next(a for a in args if a.startswith("--steps=")))
        # the second resumes at the first's 30 steps and trains 60: 30 more took 120 s
        return {1: 70.0, 2: 190.0}[len(calls)]

    monkeypatch.setattr(demo, "step", timed_step)
    settings = SimpleNamespace(vae_steps=1500, refiner_steps=400, minutes=15.0)
    chosen = demo.train_vae_steps(settings, tmp_path, ["--run_dir=x"])
    assert calls == [f"--steps={demo.PROBE_STEPS}", f"--steps={3 * demo.PROBE_STEPS}"]
    assert chosen == demo.budget_steps(1500, 400, 0.25, 15.0) and chosen[0] < 1500
    assert demo.train_vae_steps(settings, tmp_path, ["--run_dir=x"]) == chosen
    assert len(calls) == 2  # not timed again
    no_budget = SimpleNamespace(vae_steps=1500, refiner_steps=400, minutes=0.0)
    assert demo.train_vae_steps(no_budget, tmp_path / "other", []) == (1500, 400)


def test_the_painter_trains_for_its_share_once(tmp_path, monkeypatch):
    """The painter trains for its share of the budget; a rerun resumes to the step it reached
    instead of training for another share."""
    from types import SimpleNamespace

    from vaest import demo
    from vaest.train import checkpoints

    calls = []
    monkeypatch.setattr(demo, "step", lambda name, script, *args: calls.append(args))
    monkeypatch.setattr(checkpoints, "latest_step", lambda folder: 321)
    settings = SimpleNamespace(painter_steps=100000, minutes=15.0)
    demo.train_painter(settings, tmp_path, "--run_dir=x")
    assert "--steps=100000" in calls[0] and f"--minutes={demo.PAINTER_SHARE * 15:g}" in calls[0]
    demo.train_painter(settings, tmp_path, "--run_dir=x")
    assert "--steps=321" in calls[1] and not any(a.startswith("--minutes") for a in calls[1])


def test_the_demo_times_the_vae_at_the_rate_it_trains(tmp_path, monkeypatch, capsys):
    """The two timing runs share a run folder, so the second resumes where the first stopped:
    the rate is what the extra steps cost, on a machine where a step takes 0.5 s after 5 s of
    start-up."""
    from types import SimpleNamespace

    from vaest import demo

    trained = {"steps": 0}

    def timed_step(name, script, *args):
        steps = int(next(a for a in args if a.startswith("--steps=")).split("=")[1])
        seconds = 5.0 + 0.5 * (steps - trained["steps"])
        trained["steps"] = steps
        return seconds

    monkeypatch.setattr(demo, "step", timed_step)
    settings = SimpleNamespace(vae_steps=1500, refiner_steps=400, minutes=15)
    chosen = demo.train_vae_steps(settings, tmp_path, [])
    assert "2.00 training steps/s" in capsys.readouterr().out
    assert chosen == demo.budget_steps(1500, 400, 2.0, 15)
