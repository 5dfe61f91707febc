"""How much each stylizing method flickers on a clip, with and without flow stabilisation.

The clip is stylized as mogrify_video.py would by default: every frame fitted to the model size,
shifted from the clip's own centroid toward the target at alpha = 1. Each method's output is
scored by vaest.flow: its flow-warped error against the input's own, at the model size. The
painter (`paint`, vaest.evaluate.passes.PAINT) is measured when the export has one for the
target; with flow stabilisation it paints the stabilised residual pictures and is stabilised
again, as mogrify_video.py does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from vaest.evaluate.passes import BATCH, MEASURED_ALPHA, PAINT, painted, painter_mix
from vaest.flow import TemporalMeter
from vaest.io import video
from vaest.latent import Shift
from vaest.stylize.geometry import Geometry
from vaest.stylize.methods import COMPARED_METHODS, stylize_by_method
from vaest.stylize.stabilize import FlowStabilizer
from vaest.stylize.streaming import batches

STABILIZED = "+flow"  # suffix of a method's figures with the default flow stabilisation


def clip_frames(exported, path: Path, count: int) -> np.ndarray:
    """The clip's first `count` frames fitted to the model size, uint8 [N, H, W, 3]."""
    frames = video.iter_frames(path)
    try:
        fitted = []
        for frame in frames:
            if len(fitted) == count:
                break
            size = frame.shape[:2]
            fitted.append(
                Geometry(size, exported.image_size, size, exported.manifest.fit).fit(frame)
            )
    finally:
        frames.close()
    return np.stack(fitted)


def temporal_figures_by_method(exported, path: Path, target: str, count: int) -> dict:
    """{method and method+flow: warping error, the input's, ratio}, with what was measured."""
    frames = clip_frames(exported, path, count)
    means = np.concatenate([exported.encode(b)[0] for b in batches(frames, BATCH)])
    shift = Shift.toward(means.mean(axis=0), exported.domain(target).centroid, MEASURED_ALPHA)
    weights = painter_mix(exported, target)
    methods = COMPARED_METHODS + ((PAINT,) if weights is not None else ())
    meters = {m + suffix: TemporalMeter() for m in methods for suffix in ("", STABILIZED)}
    stabilizers = {m: FlowStabilizer() for m in methods}

    def stabilized(method, inputs, outputs):
        return np.stack([stabilizers[method](f, o) for f, o in zip(inputs, outputs, strict=True)])

    with tqdm(total=len(frames), desc="flicker", unit="frame") as bar:
        for start in range(0, len(frames), BATCH):
            batch, batch_means = frames[start : start + BATCH], means[start : start + BATCH]
            plain = stylize_by_method(exported, batch, shift, means=batch_means)
            steady = {m: stabilized(m, batch, outputs) for m, outputs in plain.items()}
            if weights is not None:  # step 7 paints the stabilised guide, then stabilises again
                plain[PAINT] = painted(exported, batch, plain["residual"], weights)
                from_steady = painted(exported, batch, steady["residual"], weights)
                steady[PAINT] = stabilized(PAINT, batch, from_steady)
            for method in methods:
                for frame, output, calm in zip(batch, plain[method], steady[method], strict=True):
                    meters[method].add(frame, output)
                    meters[method + STABILIZED].add(frame, calm)
            bar.update(len(batch))
    found = {"clip": str(path), "frames": len(frames), "alpha": MEASURED_ALPHA}
    found["shift_from"] = "the clip's own centroid, as mogrify_video.py's --source auto"
    found |= {name: meter.figures() for name, meter in meters.items()}
    return found
