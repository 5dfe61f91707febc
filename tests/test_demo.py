"""`make demo`, scaled down: the seven scripts end to end on the generated sample."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from vaest.io.video_out import stream_info

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
    ]
    done = subprocess.run(
        [sys.executable, "-m", "vaest.demo", f"--run_dir={run}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last_lines = done.stdout.strip().splitlines()[-5:]
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
