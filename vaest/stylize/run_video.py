"""Step 7 for a video: frames stream from the input, through the model, into an MP4 or GIF.

A background thread decodes and fits frames, another runs the model, and the caller's thread
places and encodes frames, so that ffmpeg and the model overlap. Only a few batches are in memory
at a time.
"""

from __future__ import annotations

import time

import numpy as np
from absl import logging

from vaest.flow import TemporalMeter
from vaest.io.imaging import to_uint8
from vaest.stylize.job import Result
from vaest.stylize.plan import Plan
from vaest.stylize.streaming import batches, prefetch


def run_video(plan: Plan, stylizer, bar, known_means=None) -> Result:
    """known_means: every frame's mu, in order, when the --source auto pass measured them."""
    geometry, paint, pictures = plan.geometry, plan.paint, plan.pictures
    compose = plan.composer(geometry)
    if geometry.fit_changed:
        logging.info(
            "the export was made with fit=crop, but %dx%d has another aspect than the model: "
            "letterboxing instead of cropping, so that none of the picture is lost",
            geometry.source_size[1],
            geometry.source_size[0],
        )
    logging.info(
        "%s: %s at %.3f frames/s; %s",
        pictures.name, geometry.describe(), plan.rate, compose.describe(),
    )  # fmt: skip
    meter = TemporalMeter() if plan.measure_temporal else None
    if paint is not None:  # measured on the painted frames, not on the painter's guides
        paint.meter, meter_at_model_size = meter, None
    else:
        meter_at_model_size = meter

    def fitted_batches():
        prepared = ((geometry.fit(f), geometry.thumbnail(f)) for f in pictures)
        done = 0
        for batch in batches(prepared, plan.batch_size):
            fitted, thumbnails = zip(*batch, strict=True)
            means = None
            if known_means is not None and done + len(batch) <= len(known_means):
                means = known_means[done : done + len(batch)]
            done += len(batch)
            yield thumbnails, np.stack(fitted), means

    def styled_batches():
        for thumbnails, fitted, means in prefetch(fitted_batches()):
            styled = stylizer(fitted, means)
            for frame, picture in zip(fitted, styled, strict=True) if meter_at_model_size else ():
                picture = to_uint8(picture)
                if picture.shape != frame.shape:  # optimize's whole picture at its working size
                    picture = geometry.fit(picture)
                meter_at_model_size.add(frame, picture)
            yield thumbnails, fitted, styled

    def output_frames(progress):
        # The source frames at full size, decoded again in step with the output (see compose).
        sources = iter(pictures) if compose.needs_source else None
        try:
            for thumbnails, fitted, styled in prefetch(styled_batches()):
                for thumbnail, small, picture in zip(thumbnails, fitted, styled, strict=True):
                    frame = next(sources) if sources else None
                    yield compose(picture, small, thumbnail, frame)
                progress.update(len(styled))
        finally:
            if sources:
                sources.close()

    start = time.perf_counter()
    with bar(total=pictures.count or None, desc="stylize", unit="frame") as progress:
        count = plan.output.write(output_frames(progress))
    figures = meter.figures() if meter else None
    return Result(plan.output.path, count, time.perf_counter() - start, figures)
