"""Step 7: paint a painting domain's look onto a video, an image or a folder of images.

Each frame is fitted to the model size, encoded to its latent mean mu, shifted (vaest.latent),
decoded, refined and put back at the output size.

Videos stream: a background thread decodes and fits frames, another runs the model, and the
caller's thread places and encodes frames, so that ffmpeg and the model overlap. Only a few
batches are in memory at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from absl import logging
from tqdm import tqdm

from vaest.io import imaging, video, video_out
from vaest.io.atomic import staged_folder
from vaest.io.imaging import to_uint8
from vaest.latent import Shift, TargetSchedule
from vaest.stylize.compose import Composer
from vaest.stylize.geometry import Geometry
from vaest.stylize.job import Job
from vaest.stylize.record import settings_record
from vaest.stylize.settings import parse_output_size
from vaest.stylize.stabilize import FlowStabilizer
from vaest.stylize.streaming import batches, prefetch
from vaest.stylize.stylizer import (
    MAX_CENTROID_FRAMES,
    Stylizer,
    measure_centroid,
    named_source,
    video_domains_centroid,
)
from vaest.stylize.targets import describe, target_schedule
from vaest.temporal import TemporalMeter


def load_export(run_dir, settings, batch_given: bool = True):
    """RUN/export, placed on --device and in --precision as settings ask. A GPU takes
    GPU_BATCH frames per call unless the batch size was given."""
    from vaest.device import GPU_BATCH, resolve_device, resolve_precision
    from vaest.export.read import Exported

    device = resolve_device(settings.device)
    if "GPU" in device and not batch_given:
        settings.batch_size = GPU_BATCH
    exported = Exported.from_run(run_dir, device)
    exported.precision = resolve_precision(settings.precision, device, exported.has_bfloat16)
    logging.info(
        "model on %s in %s, %d frames per call", device, exported.precision, settings.batch_size
    )
    return exported


@dataclass
class Result:
    path: Path
    frames: int
    seconds: float  # the stylizing pass, without the first pass of --source auto
    temporal: dict | None = None  # vaest.temporal figures at the model size, when measured

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run(job: Job, exported, progress: Callable | None = None) -> Result:
    """Stylize job.input into job.output. progress: a tqdm-like factory for progress bars."""
    settings = job.settings
    a, b = settings.weights()
    schedule = target_schedule(exported, settings.target, settings.transition)
    source, means = named_source(exported, settings.source), None
    if source is None:
        source, means = _auto_source(job, exported, progress)
    target = schedule.at(settings.start)[0]  # the schedule's first; a timeline moves it
    shift = Shift(np.asarray(source, np.float32), target, a, b)
    logging.info(
        "shift: z' = mu - %g * c_source (%s) + %g * c_target (%s)",
        a,
        settings.source,
        b,
        describe(settings.target, schedule, settings.transition),
    )
    if job.kind != "video" and (settings.smoothing or settings.measure_temporal):
        logging.info("--smoothing and --measure_temporal apply to videos only")
    job.output.parent.mkdir(parents=True, exist_ok=True)
    if job.kind == "video":
        return _run_video(job, exported, shift, schedule, progress, means)
    runner = _run_image if job.kind == "image" else _run_folder
    return runner(job, exported, shift, progress)


def _bar(progress, **kwargs):
    return (progress or _no_bar)(**kwargs)


def _no_bar(**kwargs):
    return tqdm(disable=True, **kwargs)


def video_geometry(job: Job, exported) -> Geometry:
    info, settings = job.info, job.settings
    size = parse_output_size(settings.output_size, info.size, exported.image_size)
    return Geometry(info.size, exported.image_size, size, exported.manifest.fit, settings.inset)


def _video_frames(job: Job) -> Iterator[np.ndarray]:
    """The requested range of the input video, frame by frame."""
    settings = job.settings
    frames = video.iter_frames(
        job.input, settings.start or None, settings.duration, job.info.resample_rate
    )
    try:
        for i, frame in enumerate(frames):
            if settings.max_frames is not None and i >= settings.max_frames:
                break
            yield frame
    finally:
        frames.close()


def _auto_source(job: Job, exported, progress) -> tuple[np.ndarray, np.ndarray | None]:
    """The input's own centroid of mu; for a lone image, the trained videos' centroid.

    Also returns every frame's mu when the pass saw every frame of a video, so that the
    stylizing pass need not encode them again.
    """
    size = exported.image_size
    if job.kind == "image" or (job.kind == "folder" and len(job.images) < 2):
        logging.info("--source auto on a single image: using the trained videos' centroid")
        return video_domains_centroid(exported), None
    if job.kind == "folder":
        stride = math.ceil(len(job.images) / MAX_CENTROID_FRAMES)
        paths = job.images[::stride]
        fitted = (_fit_image(p, size, exported.manifest.fit) for p in paths)
        total = len(paths)
    else:
        geometry = video_geometry(job, exported)
        stride = max(1, math.ceil(job.total_frames / MAX_CENTROID_FRAMES))
        fitted = (geometry.fit(f) for i, f in enumerate(_video_frames(job)) if i % stride == 0)
        total = math.ceil(job.total_frames / stride)
    start = time.perf_counter()
    with _bar(progress, total=total, desc="source centroid", unit="frame") as bar:
        centroid, means = measure_centroid(exported, prefetch(fitted), job.settings.batch_size, bar)
    logging.info(
        "--source auto: centroid of mu over %d frames (stride %d, at most about %d) in %.1f s",
        len(means),
        stride,
        MAX_CENTROID_FRAMES,
        time.perf_counter() - start,
    )
    return centroid, means if job.kind == "video" and stride == 1 else None


def _fit_image(path: Path, size, fit: str) -> np.ndarray:
    image = imaging.load_image(path)
    return Geometry(image.shape[:2], size, image.shape[:2], fit).fit(image)


def composer(geometry: Geometry, settings) -> Composer:
    return Composer(
        geometry,
        settings.method,
        settings.detail,
        settings.upsample,
        settings.keep_colours,
        settings.side_by_side,
    )


def _run_video(
    job: Job, exported, shift: Shift, schedule: TargetSchedule, progress, known_means=None
) -> Result:
    """known_means: every frame's mu, in order, when the --source auto pass measured them."""
    settings, info = job.settings, job.info
    geometry = video_geometry(job, exported)
    compose = composer(geometry, settings)
    rate = exact_rate(info.fps)
    if geometry.fit_changed:
        logging.info(
            "the export was made with fit=crop, but %dx%d has another aspect than the model: "
            "letterboxing instead of cropping, so that none of the picture is lost",
            info.width,
            info.height,
        )
    logging.info(
        "%s: %s at %.3f frames/s; %s",
        job.input.name,
        geometry.describe(),
        info.fps,
        compose.describe(),
    )
    # Stabilised at the model size: the flicker is made there, and the flow is cheapest there.
    kinds = settings.temporal_kinds()
    stabilizer = FlowStabilizer(settings.temporal_weight) if "flow" in kinds else None
    stylizer = Stylizer(
        exported,
        shift,
        settings.latent_smoothing(),
        settings.pixel_smoothing,
        settings.refine,
        settings.detail,
        settings.method,
        stabilizer,
        schedule,
        (settings.start, float(rate)),
    )
    meter = TemporalMeter() if settings.measure_temporal else None

    def fitted_batches():
        prepared = ((geometry.fit(f), geometry.thumbnail(f)) for f in _video_frames(job))
        done = 0
        for batch in batches(prepared, settings.batch_size):
            fitted, thumbnails = zip(*batch, strict=True)
            means = None
            if known_means is not None and done + len(batch) <= len(known_means):
                means = known_means[done : done + len(batch)]
            done += len(batch)
            yield thumbnails, np.stack(fitted), means

    def styled_batches():
        for thumbnails, fitted, means in prefetch(fitted_batches()):
            styled = stylizer(fitted, means)
            for frame, picture in zip(fitted, styled, strict=True) if meter else ():
                meter.add(frame, to_uint8(picture))
            yield thumbnails, fitted, styled

    def output_frames(bar):
        # The source frames at full size, decoded again in step with the output (see compose).
        sources = _video_frames(job) if compose.needs_source else None
        try:
            for thumbnails, fitted, styled in prefetch(styled_batches()):
                for thumbnail, small, picture in zip(thumbnails, fitted, styled, strict=True):
                    frame = next(sources) if sources else None
                    yield compose(picture, small, thumbnail, frame)
                bar.update(len(styled))
        finally:
            if sources:
                sources.close()

    start = time.perf_counter()
    with _bar(progress, total=job.total_frames or None, desc="stylize", unit="frame") as bar:
        if job.output_kind == "gif":
            count = video_out.write_gif(job.output, output_frames(bar), float(rate))
        else:
            with video_out.VideoWriter(
                job.output,
                fps=rate,
                size=compose.output_size,
                audio_source=job.input if settings.audio else None,
                start=settings.start or None,
                duration=settings.duration,
                crf=settings.crf,
                comment=settings_record(settings, exported),
            ) as writer:
                for frame in output_frames(bar):
                    writer.write(frame)
            count = writer.frames
    figures = meter.figures() if meter else None
    return Result(job.output, count, time.perf_counter() - start, figures)


def exact_rate(fps: float) -> Fraction:
    """The header's rounded rate as a fraction: 29.97 -> 30000/1001, so long videos don't drift."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 0.006 and abs(fps - ntsc) > 0.006:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


def _stylize_images(job: Job, exported, shift: Shift, paths: list[Path], progress):
    """Yield (path, stylized uint8 image at its output size) for each image path, in order.
    Images have no time: a timeline gives them its first target."""
    settings = job.settings
    fit = exported.manifest.fit
    stylizer = Stylizer(
        exported, shift, refine=settings.refine, detail=settings.detail, method=settings.method
    )

    def loaded():
        for path in paths:
            image = imaging.load_image(path)
            size = parse_output_size(settings.output_size, image.shape[:2], exported.image_size)
            geometry = Geometry(image.shape[:2], exported.image_size, size, fit, settings.inset)
            compose = composer(geometry, settings)
            yield path, compose, image, geometry.fit(image), geometry.thumbnail(image)

    with _bar(progress, total=len(paths), desc="stylize", unit="image") as bar:
        for batch in batches(prefetch(loaded()), settings.batch_size):
            styled = stylizer(np.stack([item[3] for item in batch]))
            for (path, compose, image, fitted, thumbnail), picture in zip(
                batch, styled, strict=True
            ):
                yield path, compose(picture, fitted, thumbnail, image)
            bar.update(len(batch))


def _run_image(job: Job, exported, shift: Shift, progress) -> Result:
    start = time.perf_counter()
    for _, picture in _stylize_images(job, exported, shift, [job.input], progress):
        imaging.save_image(picture, job.output)
    return Result(job.output, 1, time.perf_counter() - start)


def _run_folder(job: Job, exported, shift: Shift, progress) -> Result:
    """Same relative names under a temporary folder, renamed into place once all are written."""
    start = time.perf_counter()
    output = job.output
    count = 0
    with staged_folder(output) as tmp:
        for path, picture in _stylize_images(job, exported, shift, job.images, progress):
            target = tmp / path.relative_to(job.input)
            target.parent.mkdir(parents=True, exist_ok=True)
            imaging.write_image(picture, target)
            count += 1
    return Result(output, count, time.perf_counter() - start)
