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


def test_the_trainings_share_the_budget_as_their_asked_steps():
    from types import SimpleNamespace

    from vaest.demo import PAINTER_SHARE, TRAINING_SHARE, training_minutes

    shares = training_minutes(SimpleNamespace(vae_steps=1500, refiner_steps=400, minutes=15.0))
    assert shares["vae"] + shares["refiner"] == pytest.approx(TRAINING_SHARE * 15)
    assert shares["vae"] / shares["refiner"] == pytest.approx(1500 / 400)
    assert shares["painter"] == pytest.approx(PAINTER_SHARE * 15)
    no_budget = training_minutes(SimpleNamespace(vae_steps=1500, refiner_steps=400, minutes=0))
    assert set(no_budget.values()) == {0.0}


@pytest.mark.parametrize("key", ["vae", "refiner", "painter"])
def test_each_training_runs_for_its_share_once(tmp_path, monkeypatch, key):
    """A training runs for its minutes, bounded by the asked steps; a rerun resumes to the step
    it reached instead of training for another share; without a budget it runs to the asked
    steps and nothing is kept."""
    from vaest import demo
    from vaest.train import checkpoints

    calls = []
    monkeypatch.setattr(demo, "step", lambda name, *command: calls.append(command))
    monkeypatch.setattr(checkpoints, "latest_step", lambda folder: {tmp_path / key: 321}[folder])
    demo.train_to_budget(tmp_path, key, 1500, 4.7368, "train", "script.py", "--run_dir=x")
    assert calls[0] == ("script.py", "--run_dir=x", "--steps=1500", "--minutes=4.74")
    demo.train_to_budget(tmp_path, key, 1500, 4.7368, "train", "script.py", "--run_dir=x")
    assert calls[1] == ("script.py", "--run_dir=x", "--steps=321")
    assert json.loads((tmp_path / demo.BUDGET).read_text()) == {f"{key}_steps": 321}
    (tmp_path / "other").mkdir()
    demo.train_to_budget(tmp_path / "other", key, 1500, 0.0, "train", "script.py")
    assert calls[2] == ("script.py", "--steps=1500")
    assert not (tmp_path / "other" / demo.BUDGET).exists()
