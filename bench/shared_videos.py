"""The benchmarks' videos, panned over the photographs of ../shared/data (never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN_PHOTOS = ("chicago", "golden_gate")  # the film the models train on
UNSEEN_PHOTOS = ("hoovertowernight", "tubingen")  # a video they never see


def pan(photos: list[Path], path: Path, size, frames: int, seed: int) -> Path:
    from vaest.imaging import load_image
    from vaest.sample import pan_video

    images = [load_image(p) for p in photos]
    rngs = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    return pan_video(images, path, size, 25, frames, *rngs)


def fitted_frames(video: Path, size, every: int) -> np.ndarray:
    from vaest.imaging import fit_image
    from vaest.video import iter_frames

    kept = [fit_image(f, size) for i, f in enumerate(iter_frames(video)) if i % every == 0]
    return np.stack(kept).astype(np.float32) / 255.0
