"""Shared fixtures: generated videos from ffmpeg's lavfi sources and real bundled photographs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_video(
    path: Path,
    frames: int = 100,
    size: str = "320x180",
    fps: int = 25,
    source: str = "testsrc2",
    audio: bool = False,
) -> Path:
    """Encode `frames` frames of a lavfi test source as H.264, with a sine track if asked."""
    cmd = [FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", f"{source}=size={size}:rate={fps}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    cmd += ["-frames:v", str(frames), "-pix_fmt", "yuv420p", "-c:v", "libx264"]
    if audio:
        cmd += ["-c:a", "aac", "-t", f"{frames / fps:.6f}"]
    cmd.append(str(path))
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real photographs that ship inside scikit-image's wheel (no download)."""
    from skimage import data

    return {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
    }


@pytest.fixture
def clip(tmp_path) -> Path:
    """100 frames of testsrc2 at 320x180, 25 fps, no audio."""
    return make_video(tmp_path / "clip.mp4")
