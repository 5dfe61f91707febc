"""Step 7: paint a painting domain's look onto a video, an image or a folder of images.

Each frame is fitted to the model size, encoded to its latent mean mu, shifted to
z' = mu - a * c_source + b * c_target, decoded, refined and put back at the output size.

- c_target is the painting domain's centroid. c_source is the input's own centroid (measured in a
  first pass), a trained domain's centroid, or zero.
- --method (vaest.structure) says how the frame's structure is kept: `residual` (the default)
  adds back what the model could not rebuild of the frame, `refine` is the refiner alone, `split`
  the frequency-split baseline.
- For `refine` without smoothing, the exported `stylize` graph does it all in one call per batch;
  otherwise encode, decode and refine run apart, which latent smoothing (an exponential moving
  average of z' across frames) and reusing the mu of the --source auto pass need too.
- Videos stream: a background thread decodes and fits frames, another runs the model, and the
  caller's thread places and encodes frames, so that ffmpeg and the model overlap. Only a few
  batches are in memory at a time.

Geometry: the model sees the frame stretched (when the aspects match, or the export was made with
fit=stretch) or letterboxed (fit=pad). An export made with fit=crop still gets a letterboxed frame
when the aspects differ, because cropping would cut away part of the user's picture. The picture's
part of the model output is then resized into the output size, letterboxed if the output size has
another aspect: nothing is ever distorted or cut off.
"""

from __future__ import annotations

import math
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from absl import logging
from PIL import Image
from tqdm import tqdm

from vaest import imaging, video, video_out
from vaest.errors import UserError
from vaest.grid import to_uint8
from vaest.latent import CentroidTally, Shift, choose_domain, weighted_centroid
from vaest.run_dir import RunDir
from vaest.structure import DEFAULT_METHOD, METHODS, stylize_latents

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")
SOURCE_AUTO, SOURCE_NONE = "auto", "none"
MAX_CENTROID_FRAMES = 500  # the first pass of --source auto encodes at most about this many
PIXEL_KEEP = 0.2  # --pixel_smoothing, the original's blend: out = 0.2 * last + 0.8 * current
DEFAULT_STRENGTH = 1.0


@dataclass
class Settings:
    """Everything a user chooses; the names follow mogrify_video.py's flags."""

    target: str | None = None  # painting domain; None means the only one
    source: str = SOURCE_AUTO  # auto, a domain name, or none
    strength: float | None = None  # a = b = strength; 1.0 when no weight is given
    source_weight: float | None = None
    target_weight: float | None = None
    smoothing: float = 0.0  # latent EMA factor s in [0, 1)
    pixel_smoothing: bool = False
    refine: bool = True
    method: str = DEFAULT_METHOD  # residual, refine or split (vaest.structure)
    detail: float = 1.0  # share of the frame's structure kept
    output_size: str = "source"  # source, model or WIDTHxHEIGHT
    inset: bool = False
    start: float = 0.0
    duration: float | None = None
    max_frames: int | None = None
    batch_size: int = 8
    crf: int = 18
    audio: bool = True

    def check(self) -> None:
        if not 0.0 <= self.smoothing < 1.0:
            raise UserError(f"--smoothing must be in [0, 1), not {self.smoothing}")
        if self.batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, not {self.batch_size}")
        if self.start < 0:
            raise UserError(f"--start must not be negative, not {self.start}")
        if self.duration is not None and self.duration <= 0:
            raise UserError(f"--duration must be positive, not {self.duration}")
        if self.max_frames is not None and self.max_frames < 1:
            raise UserError(f"--max_frames must be at least 1, not {self.max_frames}")
        if self.method not in METHODS:
            raise UserError(f"--method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if not 0.0 <= self.detail <= 1.0:
            raise UserError(f"--detail must be in [0, 1], not {self.detail}")
        if not 0 <= self.crf <= 51:
            raise UserError(f"--crf must be in 0..51, not {self.crf}")
        parse_output_size(self.output_size, (2, 2), (2, 2))  # the syntax, before any work
        self.weights()

    def weights(self) -> tuple[float, float]:
        """(a, b) of z' = mu - a * c_source + b * c_target.

        --strength alone (or nothing) gives a = b = strength (default 1.0). Either weight flag
        selects the general form, where a weight not given is 0. Mixing the two is an error.
        """
        general = self.source_weight is not None or self.target_weight is not None
        if general and self.strength is not None:
            raise UserError("give either --strength or --source_weight/--target_weight, not both")
        if general:
            return float(self.source_weight or 0.0), float(self.target_weight or 0.0)
        strength = DEFAULT_STRENGTH if self.strength is None else float(self.strength)
        return strength, strength


# --- paths ----------------------------------------------------------------------------------------


@dataclass
class Job:
    """What to read and write, checked before any model is loaded."""

    settings: Settings
    input: Path
    output: Path
    kind: str  # video, image or folder (the input)
    output_kind: str  # video, gif, image or folder
    info: video.VideoInfo | None = None  # videos only
    images: list[Path] | None = None  # folders only

    @property
    def total_frames(self) -> int:
        """Frames the stylizing pass will write (an estimate for videos, from the header)."""
        if self.kind == "video":
            return video_total(self.info, self.settings)
        return 1 if self.kind == "image" else len(self.images)


def input_kind(path: Path) -> str:
    if not path.exists():
        raise UserError(f"input not found: {path}")
    if path.is_dir():
        return "folder"
    return "image" if path.suffix.lower() in imaging.IMAGE_SUFFIXES else "video"


def output_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix == ".gif":
        return "gif"
    if suffix in imaging.IMAGE_SUFFIXES:
        return "image"
    if suffix:
        raise UserError(
            f"--output {path}: unknown kind {suffix!r}; use .mp4, .gif, .png, .jpg or a folder"
        )
    return "folder"


def default_output(run_dir: Path, source: Path, kind: str) -> Path:
    """RUN/out/<stem>-stylized.mp4 (.png for an image, a folder for a folder)."""
    if kind == "folder":
        return RunDir(run_dir).out / f"{source.resolve().name}-stylized"
    suffix = ".png" if kind == "image" else ".mp4"
    return RunDir(run_dir).out / f"{source.stem}-stylized{suffix}"


ALLOWED = {"video": ("video", "gif"), "image": ("image",), "folder": ("folder",)}


def plan(
    settings: Settings, input_path: str | Path, output_path: str | Path | None, run_dir: str | Path
) -> Job:
    """Check the settings, the input and the output; read the video's header. No model needed."""
    settings.check()
    source = Path(input_path)
    kind = input_kind(source)
    if output_path:
        output = Path(output_path)
    else:
        output = default_output(Path(run_dir), source, kind)  # RUN/out/ is made by run()
    out_kind = output_kind(output)
    if out_kind not in ALLOWED[kind]:
        wanted = " or ".join(ALLOWED[kind])
        raise UserError(f"--output {output}: a {kind} input gives a {wanted} output")
    if output.resolve() == source.resolve():
        raise UserError(f"--output {output} is the input: the input is never overwritten")
    if output_path and not output.parent.is_dir():
        raise UserError(f"--output {output}: the folder {output.parent} does not exist")
    if out_kind == "folder" and output.exists() and any(output.iterdir()):
        raise UserError(f"--output {output} already exists: remove it or choose another")
    job = Job(settings, source, output, kind, out_kind)
    if kind == "video":
        job.info = video.probe(source)
        if settings.start and job.info.duration and settings.start >= job.info.duration:
            raise UserError(
                f"--start {settings.start} s is past the end of {source} "
                f"({job.info.duration:.2f} s)"
            )
    elif kind == "image":
        imaging.load_image(source)  # fail now, not after the model has loaded
    else:
        job.images = imaging.find_images(source)
        if not job.images:
            raise UserError(f"no images in {source}")
    return job


def video_total(info: video.VideoInfo, settings: Settings) -> int:
    """Frames expected from the requested range, from the header's duration and rate."""
    length = max(0.0, info.duration - settings.start)
    if settings.duration is not None:
        length = min(length, settings.duration) if info.duration else settings.duration
    total = round(length * info.fps)
    return min(total, settings.max_frames) if settings.max_frames else total


def parse_output_size(text: str, source: tuple[int, int], model: tuple[int, int]):
    """'source', 'model' or 'WIDTHxHEIGHT' (width first, like ffmpeg) -> (height, width)."""
    if text == "source":
        return source
    if text == "model":
        return model
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(
            f"--output_size must be source, model or WIDTHxHEIGHT (e.g. 640x360), not {text!r}"
        ) from None
    if width < 2 or height < 2:
        raise UserError(f"--output_size must be at least 2x2, not {text!r}")
    return height, width


# --- geometry -------------------------------------------------------------------------------------


class Geometry:
    """How a source picture goes into the model and how the model's output comes back out."""

    def __init__(self, source_size, model_size, output_size, fit: str, inset: bool = False):
        self.source_size = tuple(source_size)
        self.model_size = tuple(model_size)
        self.output_size = tuple(output_size)
        self.inset = inset
        box = imaging.pad_box(self.source_size, self.model_size)
        same_aspect = box[2:] == self.model_size
        # Stretching is undone exactly by resizing back; cropping a picture of another aspect
        # would lose part of it, so such a picture is letterboxed instead.
        self.mode = "stretch" if fit == "stretch" or same_aspect else "pad"
        self.fit_changed = fit == "crop" and not same_aspect
        self.content = (0, 0, *self.model_size) if self.mode == "stretch" else box
        self.placement = imaging.pad_box(self.source_size, self.output_size)
        top, left, height, width = self.placement
        self.inset_size = (max(2, height // 4), max(2, width // 4))

    def fit(self, frame: np.ndarray) -> np.ndarray:
        return imaging.fit_image(frame, self.model_size, self.mode)

    def thumbnail(self, frame: np.ndarray) -> np.ndarray | None:
        """The source frame at inset size, or None without an inset; made early, so that only
        this small copy of a large frame waits in the pipeline."""
        return imaging.resize(np.asarray(frame), *self.inset_size) if self.inset else None

    def place(self, styled: np.ndarray, thumbnail: np.ndarray | None = None) -> np.ndarray:
        """uint8 model output -> uint8 frame at the output size, the source picture undistorted."""
        top, left, height, width = self.content
        picture = imaging.resize(
            styled[top : top + height, left : left + width], *self.placement[2:]
        )
        if self.placement[2:] == self.output_size and thumbnail is None:
            return picture
        out = np.zeros((*self.output_size, 3), np.uint8)
        top, left, height, width = self.placement
        out[top : top + height, left : left + width] = picture
        if thumbnail is not None:
            # Picture in picture: the untouched source in the bottom-right corner.
            margin = max(1, min(height, width) // 40)
            bottom, right = top + height - margin, left + width - margin
            out[bottom - thumbnail.shape[0] : bottom, right - thumbnail.shape[1] : right] = (
                thumbnail
            )
        return out

    def describe(self) -> str:
        (sh, sw), (mh, mw), (oh, ow) = self.source_size, self.model_size, self.output_size
        how = "stretched" if self.mode == "stretch" else "letterboxed"
        return f"{sw}x{sh} -> model {mw}x{mh} ({how}) -> output {ow}x{oh}"


# --- the latent shift -----------------------------------------------------------------------------


def target_centroid(exported, name: str | None) -> tuple[str, np.ndarray]:
    """(name, c_target) of the painting domain named by --target, or of the only one."""
    name = choose_domain(exported.domains.values(), "painting", name, "target")
    return name, exported.domains[name].centroid


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
    for batch in _batches(fitted, batch_size):
        means.append(exported.encode(np.stack(batch))[0])
        tally.add("source", means[-1])
        if progress is not None:
            progress.update(len(batch))
    if not means:
        raise UserError("no frames to measure the source centroid on")
    return tally.centroid("source"), np.concatenate(means)


class Stylizer:
    """Fitted frames in, stylized frames out (float [0, 1] at model size); keeps the smoothing
    state between calls, so one Stylizer serves one stream of frames in order."""

    def __init__(
        self,
        exported,
        shift: Shift,
        smoothing=0.0,
        pixel_smoothing=False,
        refine=True,
        detail=1.0,
        method=DEFAULT_METHOD,
    ):
        self.exported = exported
        self.shift = shift
        self.smoothing = float(smoothing)
        self.pixel_smoothing = pixel_smoothing
        self.refine = refine
        self.detail = float(detail)
        self.method = method
        self._latent = None  # last smoothed latent
        self._picture = None  # last output, for the pixel blend

    @property
    def one_graph(self) -> bool:
        """Whether the exported stylize graph does the whole job."""
        return (
            self.method == "refine"
            and self.smoothing == 0
            and (self.refine or not self.exported.has_refiner)
        )

    def latents(self, fitted: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
        """The shifted latents z', smoothed over time when asked: z_t = s z_{t-1} + (1-s) z'_t.
        means: the frames' mu when already known (from the --source auto pass)."""
        mean = self.exported.encode(fitted)[0] if means is None else means
        shifted = self.shift.apply(mean).astype(np.float32)
        if self.smoothing == 0:
            return shifted
        s = self.smoothing
        for i, row in enumerate(shifted):
            previous = row if self._latent is None else self._latent
            self._latent = shifted[i] = s * previous + (1.0 - s) * row
        return shifted

    def __call__(self, fitted: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
        shift = self.shift
        if self.one_graph and means is None:
            out = self.exported.stylize(
                fitted,
                shift.source,
                shift.target,
                shift.source_weight,
                shift.target_weight,
                self.detail,
            )
        else:
            if means is None:
                means = self.exported.encode(fitted)[0]
            shifted = self.latents(fitted, means)
            out = stylize_latents(
                self.exported, fitted, shifted, means, self.method, self.refine, self.detail
            )
        if self.pixel_smoothing:
            for i, picture in enumerate(out):
                if self._picture is not None:
                    out[i] = PIXEL_KEEP * self._picture + (1.0 - PIXEL_KEEP) * picture
                self._picture = out[i]
        return out


# --- running --------------------------------------------------------------------------------------


@dataclass
class Result:
    path: Path
    frames: int
    seconds: float  # the stylizing pass, without the first pass of --source auto

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run(job: Job, exported, progress: Callable | None = None) -> Result:
    """Stylize job.input into job.output. progress: a tqdm-like factory for progress bars."""
    settings = job.settings
    a, b = settings.weights()
    target_name, target = target_centroid(exported, settings.target)
    source, means = named_source(exported, settings.source), None
    if source is None:
        source, means = _auto_source(job, exported, progress)
    shift = Shift(np.asarray(source, np.float32), np.asarray(target, np.float32), a, b)
    logging.info(
        "shift: z' = mu - %g * c_source (%s) + %g * c_target (%s)",
        a,
        settings.source,
        b,
        target_name,
    )
    if settings.smoothing and job.kind != "video":
        logging.info("--smoothing applies to videos only: images are stylized one by one")
    job.output.parent.mkdir(parents=True, exist_ok=True)
    if job.kind == "video":
        return _run_video(job, exported, shift, progress, means)
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
    frames = video.iter_frames(job.input, settings.start or None, settings.duration)
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
        centroid, means = measure_centroid(
            exported, _prefetch(fitted), job.settings.batch_size, bar
        )
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


def _run_video(job: Job, exported, shift: Shift, progress, known_means=None) -> Result:
    """known_means: every frame's mu, in order, when the --source auto pass measured them."""
    settings, info = job.settings, job.info
    geometry = video_geometry(job, exported)
    if geometry.fit_changed:
        logging.info(
            "the export was made with fit=crop, but %dx%d has another aspect than the model: "
            "letterboxing instead of cropping, so that none of the picture is lost",
            info.width,
            info.height,
        )
    logging.info("%s: %s at %.3f frames/s", job.input.name, geometry.describe(), info.fps)
    stylizer = Stylizer(
        exported,
        shift,
        settings.smoothing,
        settings.pixel_smoothing,
        settings.refine,
        settings.detail,
        settings.method,
    )

    def fitted_batches():
        prepared = ((geometry.fit(f), geometry.thumbnail(f)) for f in _video_frames(job))
        done = 0
        for batch in _batches(prepared, settings.batch_size):
            fitted, thumbnails = zip(*batch, strict=True)
            means = None
            if known_means is not None and done + len(batch) <= len(known_means):
                means = known_means[done : done + len(batch)]
            done += len(batch)
            yield thumbnails, np.stack(fitted), means

    def styled_batches():
        for thumbnails, fitted, means in _prefetch(fitted_batches()):
            yield thumbnails, to_uint8(stylizer(fitted, means))

    def output_frames(bar):
        for thumbnails, styled in _prefetch(styled_batches()):
            for thumbnail, picture in zip(thumbnails, styled, strict=True):
                yield geometry.place(picture, thumbnail)
            bar.update(len(styled))

    rate = exact_rate(info.fps)
    start = time.perf_counter()
    with _bar(progress, total=job.total_frames or None, desc="stylize", unit="frame") as bar:
        if job.output_kind == "gif":
            count = video_out.write_gif(job.output, output_frames(bar), float(rate))
        else:
            with video_out.VideoWriter(
                job.output,
                fps=rate,
                size=geometry.output_size,
                audio_source=job.input if settings.audio else None,
                start=settings.start or None,
                duration=settings.duration,
                crf=settings.crf,
            ) as writer:
                for frame in output_frames(bar):
                    writer.write(frame)
            count = writer.frames
    return Result(job.output, count, time.perf_counter() - start)


def exact_rate(fps: float) -> Fraction:
    """The header's rounded rate as a fraction: 29.97 -> 30000/1001, so long videos don't drift."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 0.006 and abs(fps - ntsc) > 0.006:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


def _stylize_images(job: Job, exported, shift: Shift, paths: list[Path], progress):
    """Yield (path, stylized uint8 image at its output size) for each image path, in order."""
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
            yield path, geometry, geometry.fit(image), geometry.thumbnail(image)

    with _bar(progress, total=len(paths), desc="stylize", unit="image") as bar:
        for batch in _batches(_prefetch(loaded()), settings.batch_size):
            styled = to_uint8(stylizer(np.stack([item[2] for item in batch])))
            for (path, geometry, _, thumbnail), picture in zip(batch, styled, strict=True):
                yield path, geometry.place(picture, thumbnail)
            bar.update(len(batch))


def _run_image(job: Job, exported, shift: Shift, progress) -> Result:
    start = time.perf_counter()
    for _, picture in _stylize_images(job, exported, shift, [job.input], progress):
        save_image(picture, job.output)
    return Result(job.output, 1, time.perf_counter() - start)


def _run_folder(job: Job, exported, shift: Shift, progress) -> Result:
    """Same relative names under a temporary folder, renamed into place once all are written."""
    start = time.perf_counter()
    output = job.output
    tmp = output.parent / f".{output.name}.tmp-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        count = 0
        for path, picture in _stylize_images(job, exported, shift, job.images, progress):
            target = tmp / path.relative_to(job.input)
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_image(picture, target)
            count += 1
        if output.exists():
            output.rmdir()  # plan() made sure it is empty
        tmp.rename(output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Result(output, count, time.perf_counter() - start)


def _write_image(image: np.ndarray, path: Path) -> None:
    """Write in the format the suffix names (PNG, JPEG at quality 95, ...)."""
    fmt = Image.registered_extensions()[path.suffix.lower()]
    options = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(image).save(path, format=fmt, **options)


def save_image(image: np.ndarray, path: str | Path) -> None:
    """Write an image atomically: a uniquely named temporary file beside it, then a rename."""
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        _write_image(image, Path(name))
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


# --- streaming helpers ----------------------------------------------------------------------------


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_DONE = object()


def _prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Run an iterator in a background thread, at most `depth` items ahead of the consumer.

    Errors are raised in the consumer. When the consumer stops (finished, failed or Ctrl-C),
    the thread stops too and closes the iterator, which ends any ffmpeg process behind it.
    """
    results: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                results.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        iterator = iter(items)
        try:
            for item in iterator:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as err:  # handed to the consumer, which raises it
            put((False, err))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = results.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()
