"""c_source, the centroid the shift moves away from (--source).

- auto: the input's own centroid of mu, measured in a first pass over its frames (a video's
  frames or a folder's images, at most about MAX_CENTROID_FRAMES of them, evenly spaced); a lone
  image has no centroid of its own and takes the trained videos' centroid;
- a trained domain's name: that domain's centroid;
- none: zero.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import numpy as np
from absl import logging

from vaest.errors import UserError
from vaest.latent import CentroidTally, weighted_centroid
from vaest.stylize.settings import SOURCE_AUTO, SOURCE_NONE
from vaest.stylize.streaming import batches, prefetch

MAX_CENTROID_FRAMES = 500  # the first pass of --source auto encodes at most about this many


def named_source(exported, name: str) -> np.ndarray | None:
    """A named domain's centroid, zero for none, or None for auto (measured later)."""
    if name == SOURCE_AUTO:
        return None
    if name == SOURCE_NONE:
        return np.zeros(exported.latent_dim, np.float32)
    if name not in exported.domains:
        raise UserError(
            f"no domain named {name!r} for --source; use auto, none or one of: "
            f"{', '.join(exported.domains)}"
        )
    return exported.domains[name].centroid


def video_domains_centroid(exported) -> np.ndarray:
    """The centroid of all trained video frames together: the reference for a lone image."""
    videos = [exported.domains[n] for n in exported.video_domains()]
    if not videos:
        return np.zeros(exported.latent_dim, np.float32)
    return weighted_centroid([d.centroid for d in videos], [max(d.count, 1) for d in videos])


def measure_centroid(exported, fitted: Iterable[np.ndarray], batch_size: int, progress=None):
    """Mean of mu over fitted frames; returns (centroid, every frame's mu [N, latent_dim])."""
    means, tally = [], CentroidTally(exported.latent_dim)
    for batch in batches(fitted, batch_size):
        means.append(exported.encode(np.stack(batch))[0])
        tally.add("source", means[-1])
        if progress is not None:
            progress.update(len(batch))
    if not means:
        raise UserError("no frames to measure the source centroid on")
    return tally.centroid("source"), np.concatenate(means)


def choose_source(plan, exported, bar) -> tuple[np.ndarray, np.ndarray | None]:
    """(c_source, every frame's mu or None) for a vaest.stylize.plan.Plan.

    The mu come back when the --source auto pass saw every frame of a video, so that the
    stylizing pass need not encode them again. bar: a tqdm-like factory for the pass's bar.
    """
    pictures = plan.pictures
    named = named_source(exported, plan.settings.source)
    if named is not None:
        return named, None
    if not pictures.video and pictures.count < 2:
        logging.info("--source auto on a single image: using the trained videos' centroid")
        return video_domains_centroid(exported), None
    stride, spaced = pictures.spaced(MAX_CENTROID_FRAMES)
    fitted = (plan.geometry_for(p.shape[:2]).fit(p) for p in spaced)
    total = math.ceil(pictures.count / stride)
    start = time.perf_counter()
    with bar(total=total, desc="source centroid", unit="frame") as progress:
        centroid, means = measure_centroid(exported, prefetch(fitted), plan.batch_size, progress)
    logging.info(
        "--source auto: centroid of mu over %d frames (stride %d, at most about %d) in %.1f s",
        len(means),
        stride,
        MAX_CENTROID_FRAMES,
        time.perf_counter() - start,
    )
    return centroid, means if pictures.video and stride == 1 else None
