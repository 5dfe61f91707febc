"""Extraction speed against the raw decode speed of the same clip.

Generates a 1,000-frame 320x180 testsrc2 clip, times iterating vaest.video.iter_frames alone,
then times the full extraction at stride 1 and 180x320 (PNG, and JPEG for comparison). Target:
PNG extraction at least half the raw decode rate. Always exits 0.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vaest.data import extract, sources
from vaest.io import video

FRAMES = 1000
TARGET = 0.5


def make_clip(path: Path) -> None:
    cmd = [video.ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi"]
    cmd += ["-i", "testsrc2=size=320x180:rate=25", "-frames:v", str(FRAMES)]
    cmd += ["-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)]
    subprocess.run(cmd, check=True)


def decode_rate(clip: Path) -> float:
    start = time.perf_counter()
    frames = sum(1 for _ in video.iter_frames(clip))
    assert frames == FRAMES, frames
    return frames / (time.perf_counter() - start)


def extract_rate(clip: Path, run_dir: Path, image_format: str) -> float:
    options = sources.Options(image_size=(180, 320), frame_stride=1, image_format=image_format)
    plans = sources.plan_domains([f"clip={clip}"], [], options)
    start = time.perf_counter()
    manifest = extract.extract(plans, options, run_dir)
    seconds = time.perf_counter() - start
    written = manifest.count("train") + manifest.count("val")
    assert written == FRAMES, written
    return written / seconds


def main() -> None:
    import tensorflow  # noqa: F401  (imported before any timing)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip)
        decode_rate(clip)  # warm the file cache and ffmpeg
        decode = decode_rate(clip)
        png = extract_rate(clip, tmp / "run-png", "png")
        jpeg = extract_rate(clip, tmp / "run-jpeg", "jpeg")
    ratio = png / decode
    print(f"raw decode:          {decode:8.1f} frames/s  ({FRAMES} frames, 320x180)")
    print(f"extraction, png:     {png:8.1f} frames/s  (stride 1, 180x320)")
    print(f"extraction, jpeg:    {jpeg:8.1f} frames/s  (for comparison: {jpeg / decode:.2f})")
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    print(f"ratio png/decode:    {ratio:8.2f}  target >= {TARGET}: {verdict}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
