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
from vaest.io import video_out
from vaest.io.imaging import to_uint8
from vaest.stylize.compose import Composer
from vaest.stylize.job import Result
from vaest.stylize.plan import Plan
from vaest.stylize.settings import settings_record
from vaest.stylize.streaming import batches, prefetch


def run_video(plan: Plan, exported, stylizer, bar, known_means=None) -> Result:
    """known_means: every frame's mu, in order, when the --source auto pass measured them."""
    job, settings, geometry, paint = plan.job, plan.settings, plan.geometry, plan.paint
    compose = Composer(geometry, settings, plan.method, paint)
    if geometry.fit_changed:
        logging.info(
            "the export was made with fit=crop, but %dx%d has another aspect than the model: "
            "letterboxing instead of cropping, so that none of the picture is lost",
            job.info.width,
            job.info.height,
        )
    logging.info(
        "%s: %s at %.3f frames/s; %s",
        job.input.name,
        geometry.describe(),
        job.info.fps,
        compose.describe(),
    )
    meter = TemporalMeter() if settings.measure_temporal else None
    if paint is not None:  # measured on the painted frames, not on the painter's guides
        paint.meter, meter_at_model_size = meter, None
    else:
        meter_at_model_size = meter

    def fitted_batches():
        prepared = ((geometry.fit(f), geometry.thumbnail(f)) for f in job.frames())
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
        sources = job.frames() if compose.needs_source else None
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
    with bar(total=job.total_frames or None, desc="stylize", unit="frame") as progress:
        if job.output_kind == "gif":
            count = video_out.write_gif(job.output, output_frames(progress), float(plan.rate))
        else:
            with video_out.VideoWriter(
                job.output,
                fps=plan.rate,
                size=compose.output_size,
                audio_source=job.input if settings.audio else None,
                start=settings.start or None,
                duration=settings.duration,
                crf=settings.crf,
                comment=settings_record(plan, exported),
            ) as writer:
                for frame in output_frames(progress):
                    writer.write(frame)
            count = writer.frames
    figures = meter.figures() if meter else None
    return Result(job.output, count, time.perf_counter() - start, figures)
