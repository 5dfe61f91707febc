"""What to read and write: the input's kind, the output's kind and path, the video's header;
and what was written.

Checked before any model is loaded, so that a mistake costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from absl import logging

from vaest.errors import UserError
from vaest.io import imaging, video
from vaest.io.atomic import require_writable
from vaest.run_dir import RunDir
from vaest.stylize.settings import Settings

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")


@dataclass
class Job:
    """What to read and write, checked before any model is loaded."""

    settings: Settings
    input: Path
    output: Path
    kind: str  # video, image or folder (the input)
    output_kind: str  # video, gif, image or folder
    info: video.VideoInfo | None = None  # videos only
    rate: Fraction | None = None  # videos only: the exact frame rate of input and output
    images: list[Path] | None = None  # folders only

    @property
    def total_frames(self) -> int:
        """Frames the stylizing pass will write (an estimate for videos, from the header)."""
        if self.kind == "video":
            return video_total(self.info, self.settings)
        return 1 if self.kind == "image" else len(self.images)

    def frames(self) -> Iterator[np.ndarray]:
        """The requested range of the input video, frame by frame (decoded anew at each call)."""
        settings = self.settings
        frames = video.iter_frames(
            self.input, settings.start or None, settings.duration, self.info.resample_rate,
            square=self.info,
        )  # fmt: skip
        try:
            for i, frame in enumerate(frames):
                if settings.max_frames is not None and i >= settings.max_frames:
                    break
                yield frame
        finally:
            frames.close()


@dataclass
class Result:
    """What a job wrote."""

    path: Path
    frames: int
    seconds: float  # the stylizing pass, without the first pass of --source auto
    temporal: dict | None = None  # vaest.flow figures at the model size, when measured

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def input_kind(path: Path) -> str:
    if not path.exists():
        raise UserError(f"input not found: {path}")
    if path.is_dir():
        return "folder"
    if not path.is_file():  # a FIFO would block the reader forever
        raise UserError(
            f"--input {path}: not a regular file or a folder (a FIFO, device or socket)"
        )
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


def make_job(
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
        article = "an" if kind == "image" else "a"
        raise UserError(
            f"--output {output}: {article} {kind} input gives {article} {wanted} output"
        )
    if output.resolve() == source.resolve():
        raise UserError(f"--output {output} is the input: the input is never overwritten")
    if output_path and not output.parent.is_dir():
        raise UserError(f"--output {output}: the folder {output.parent} does not exist")
    require_writable(output.parent)
    if out_kind != "folder" and output.is_dir():
        raise UserError(f"--output {output} is a folder: name a {out_kind} file")
    if out_kind == "folder" and output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file: name a folder for a folder of images")
    if out_kind == "folder" and output.exists() and any(output.iterdir()):
        raise UserError(f"--output {output} already exists: remove it or choose another")
    job = Job(settings, source, output, kind, out_kind)
    if kind == "video":
        job.info = video.probe(source)
        job.rate = video.exact_rate(job.info.fps)
        if job.info.variable_rate:
            logging.warning(
                "%s has a variable frame rate (%.2f frames/s on average): resampled to a "
                "constant %.3f frames/s, its base rate, so that the sound stays in sync",
                source,
                job.info.average_fps,
                job.info.fps,
            )
        if job.info.display_size != job.info.size:
            logging.info(
                "%s has non-square pixels (SAR %s): frames are resampled to %dx%d, as it plays",
                source, job.info.sample_aspect, job.info.display_size[1], job.info.height,
            )  # fmt: skip
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
