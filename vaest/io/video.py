"""Streaming video frames in through the bundled ffmpeg, never holding a whole video."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
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
    # A variable-rate stream (its average rate is not its base rate) is decoded resampled to
    # `fps`, its base rate, so that frame count / fps is its duration and the sound stays in sync.
    variable_rate: bool = False
    average_fps: float | None = None
    # Pixels that are not square (a sample aspect ratio, SAR, other than 1:1) are decoded
    # resampled to square ones at `display_size`, so that nothing downstream plays squeezed.
    sample_aspect: Fraction = Fraction(1)

    @property
    def resample_rate(self) -> float | None:
        """The constant rate to decode at, or None to take the stream's frames as they are."""
        return self.fps if self.variable_rate else None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width), the order used everywhere else."""
        return self.height, self.width

    @property
    def display_size(self) -> tuple[int, int]:
        """(height, width) in square pixels: the width scaled by the SAR, kept even."""
        return self.height, max(2, 2 * round(self.width * self.sample_aspect / 2))

    @property
    def estimated_frames(self) -> int:
        return max(0, round(self.duration * self.fps))


def local(path: str | Path) -> str:
    """A path as ffmpeg must be given it: absolute, so that a name like `take:1.mp4` is read as a
    file, never as a protocol."""
    return str(Path(path).absolute())


def require_regular_file(path: Path, what: str = "input") -> None:
    """A regular file: a FIFO, device or socket would block a reader forever, or never end."""
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if not path.is_file():
        raise VideoError(f"{path}: the {what} must be a regular file (this is a FIFO, device or "
                         "socket)")  # fmt: skip


def _open(path: Path, **kwargs):
    require_regular_file(path)
    reader = imageio_ffmpeg.read_frames(local(path), **kwargs)
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as err:
        reader.close()
        text = str(err)
        if "Input #0" in text and not re.search(r"Stream #\S+", text):
            raise VideoError(f"{path}: no streams at all (an empty video, with no frames)") from err
        if "Input #0" in text and not re.search(r"Stream #\S+.*: Video:", text):
            raise VideoError(f"{path}: no video stream (sound only?)") from err
        first = text.strip().splitlines()[-1] if text.strip() else "unreadable"
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
    info = VideoInfo(
        path=path,
        width=int(width),
        height=int(height),
        fps=float(meta["fps"]),
        duration=float(meta.get("duration") or 0.0),
        has_audio=bool(meta.get("audio_codec")),
    )
    average, base, info.sample_aspect = _stream_header(path)
    # A base rate far above the average is a timebase, not a frame rate: keep the average then.
    if average and base and abs(base - average) > 0.01 * base and base <= 4 * average <= 480:
        info.variable_rate, info.average_fps, info.fps = True, average, base
    return info


def _stream_header(path: Path) -> tuple[float | None, float | None, Fraction]:
    """(average fps, base rate `tbr`, sample aspect ratio) of the first video stream, from
    ffmpeg's header dump."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", local(path)]
    dump = subprocess.run(cmd, capture_output=True, text=True, errors="replace").stderr
    line = re.search(r"Stream #\S+.*: Video:.*", dump)
    if line is None:
        return None, None, Fraction(1)
    sar = re.search(r"SAR (\d+):(\d+)", line.group(0))
    sample_aspect = Fraction(int(sar.group(1)), int(sar.group(2))) if sar else Fraction(1)
    average = re.search(r"([\d.]+) fps", line.group(0))
    base = re.search(r"([\d.]+)(k?) tbr", line.group(0))
    base_rate = float(base.group(1)) * (1000 if base.group(2) else 1) if base else None
    average_rate = float(average.group(1)) if average else None
    return average_rate, base_rate, sample_aspect if sample_aspect > 0 else Fraction(1)


def iter_frames(
    path: str | Path,
    start: float | None = None,
    duration: float | None = None,
    fps: float | None = None,
    square: VideoInfo | None = None,
) -> Iterator[np.ndarray]:
    """Yield uint8 RGB frames [H, W, 3] one at a time, optionally from `start` for `duration` s;
    with `fps`, resampled to that constant rate (a variable-rate stream: VideoInfo.resample_rate);
    with `square`, the video's VideoInfo, at its display_size in square pixels."""
    path = Path(path)
    input_params = ["-ss", f"{start:.6f}"] if start else []
    output_params = ["-t", f"{duration:.6f}"] if duration else []
    filters = [f"fps={Fraction(fps).limit_denominator(1001)}"] if fps else []
    if square is not None and square.display_size != square.size:
        height, width = square.display_size
        filters.append(f"scale={width}:{height}:flags=bicubic,setsar=1")
    if filters:
        output_params += ["-vf", ",".join(filters)]
    reader, meta = _open(path, input_params=input_params, output_params=output_params)
    width, height = meta["size"]
    if square is not None:
        height, width = square.display_size
    try:
        for raw in reader:
            yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    except RuntimeError as err:
        raise VideoError(f"{path}: decoding failed ({err})") from err
    finally:
        reader.close()


def count_frames(path: str | Path) -> int:
    """The exact number of decodable frames (decodes the whole stream)."""
    frames, _ = imageio_ffmpeg.count_frames_and_secs(local(path))
    return int(frames)


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def exact_rate(fps: float) -> Fraction:
    """The header's rounded rate as a fraction: 29.97 -> 30000/1001, so long videos don't drift."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 0.006 and abs(fps - ntsc) > 0.006:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)
