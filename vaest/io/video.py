"""Streaming video frames in through the bundled ffmpeg, never holding a whole video."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from vaest.errors import UserError


class VideoError(UserError):
    """A file that is not a usable video; the message names the file and the problem."""


@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    duration: float  # seconds, as the container states it
    has_audio: bool

    @property
    def size(self) -> tuple[int, int]:
        """(height, width), the order used everywhere else."""
        return self.height, self.width

    @property
    def estimated_frames(self) -> int:
        return max(0, round(self.duration * self.fps))


def _open(path: Path, **kwargs):
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    reader = imageio_ffmpeg.read_frames(str(path), **kwargs)
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as err:
        reader.close()
        first = str(err).strip().splitlines()[-1] if str(err).strip() else "unreadable"
        raise VideoError(f"{path}: not a readable video ({first})") from err
    if not meta.get("fps") or not meta.get("size") or meta.get("codec") in (None, ""):
        reader.close()
        raise VideoError(f"{path}: not a video (no video stream)")
    return reader, meta


def probe(path: str | Path) -> VideoInfo:
    """Read a video's header: size, frame rate, duration, whether it has sound."""
    path = Path(path)
    reader, meta = _open(path)
    reader.close()
    width, height = meta["size"]
    return VideoInfo(
        path=path,
        width=int(width),
        height=int(height),
        fps=float(meta["fps"]),
        duration=float(meta.get("duration") or 0.0),
        has_audio=bool(meta.get("audio_codec")),
    )


def iter_frames(
    path: str | Path, start: float | None = None, duration: float | None = None
) -> Iterator[np.ndarray]:
    """Yield uint8 RGB frames [H, W, 3] one at a time, optionally from `start` for `duration` s."""
    path = Path(path)
    input_params = ["-ss", f"{start:.6f}"] if start else []
    output_params = ["-t", f"{duration:.6f}"] if duration else []
    reader, meta = _open(path, input_params=input_params, output_params=output_params)
    width, height = meta["size"]
    try:
        for raw in reader:
            yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    except RuntimeError as err:
        raise VideoError(f"{path}: decoding failed ({err})") from err
    finally:
        reader.close()


def count_frames(path: str | Path) -> int:
    """The exact number of decodable frames (decodes the whole stream)."""
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    return int(frames)


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()
