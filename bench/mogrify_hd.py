"""Output larger than the model, for bench/mogrify.py (--part hd): sharpness, edge correlation and
frames/s at 1280x720 with the old upsampling (resize) and the new (guided), and numpy's peak
memory for 3840x2160 clips of two lengths."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from common import SHARED, make_export, pan

HD = (720, 1280)
UHD = (2160, 3840)
HD_FRAMES = 50
EVERY = 5  # frames judged: every 5th
UHD_LENGTHS = (8, 32)
TARGET_SHARPNESS, TARGET_EDGES = 0.8, 0.9


def cpu_summary() -> str:
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"


def test_clip(path: Path, size, frames: int) -> Path:
    """ffmpeg's testsrc2 (sharp bars, text, a checkerboard) with a sine track."""
    from vaest.io.video import ffmpeg_exe

    height, width = size
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error"]
    cmd += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25"]
    cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    cmd += ["-frames:v", str(frames), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-crf", "16"]
    cmd += ["-c:a", "aac", "-t", f"{frames / 25:.3f}", str(path)]
    subprocess.run(cmd, check=True)
    return path


def hd_clip(path: Path, frames: int) -> tuple[Path, str]:
    photos = sorted((SHARED / "photos").glob("*.jpg")) if SHARED.is_dir() else []
    if photos:
        return pan(photos, path, HD, frames, seed=16), "a pan over the shared photos"
    return test_clip(path, HD, frames), "testsrc2 (../shared/data is absent)"


def judged_frames(path: Path) -> np.ndarray:
    from vaest.io.video import iter_frames

    return np.stack([f for i, f in enumerate(iter_frames(path)) if i % EVERY == 0])


def hd_figures(run_dir: Path | None) -> None:
    from absl import logging

    from vaest.data.sources import Options
    from vaest.export.read import load_export
    from vaest.measure import metrics
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run as stylize_run
    from vaest.stylize.settings import Settings

    logging.set_verbosity(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if run_dir is None:
            run_dir, label = tmp / "run", "an untrained default export (figures of speed only)"
            make_export(run_dir, Options().image_size)
        else:
            label = str(run_dir)
        exported = load_export(run_dir)  # --device and --precision auto
        target = exported.painting_domains()[0]
        clip, what = hd_clip(tmp / "hd.mp4", HD_FRAMES)
        inputs = judged_frames(clip)
        (mh, mw), (h, w) = exported.image_size, HD
        print(f"output larger than the model: {cpu_summary()}")
        print(f"{label}, model {mw}x{mh}, --target {target}; {HD_FRAMES} frames of {what}")
        print(f"at {w}x{h}, sound, default settings, judged on every {EVERY}th frame:")
        rates = {}
        for upsample in ("resize", "guided"):
            out = tmp / f"{upsample}.mp4"
            settings = Settings(target=target, upsample=upsample)
            start = time.perf_counter()
            job = make_job(settings, clip, out, run_dir)
            result = stylize_run(make_plan(job, exported), exported)
            rates[upsample] = result.frames / (time.perf_counter() - start)
            outputs = judged_frames(out)
            sharpness = metrics.sharpness_ratio(outputs, inputs).mean()
            edges = metrics.edge_correlation(outputs, inputs).mean()
            verdict = "PASS" if sharpness >= TARGET_SHARPNESS and edges >= TARGET_EDGES else "FAIL"
            print(
                f"  --upsample {upsample:7s} sharpness {sharpness:.3f}  edge correlation "
                f"{edges:.3f}  {rates[upsample]:5.2f} frames/s end to end  "
                f"(targets >= {TARGET_SHARPNESS}, >= {TARGET_EDGES}: {verdict})"
            )
        print(f"  guided / resize frames/s: {rates['guided'] / rates['resize']:.2f}")
        peaks = []
        for frames in UHD_LENGTHS:
            uhd = test_clip(tmp / f"uhd{frames}.mp4", UHD, frames)
            tracemalloc.start()
            job = make_job(Settings(target=target), uhd, tmp / "uhd-out.mp4", run_dir)
            stylize_run(make_plan(job, exported), exported)
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        pairs = zip(UHD_LENGTHS, peaks, strict=True)
        lengths = " and ".join(f"{n} frames {peak:.0f} MB" for n, peak in pairs)
        print(f"3840x2160, peak numpy memory: {lengths} (a stream: flat in the length)")
