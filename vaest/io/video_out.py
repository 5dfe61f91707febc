"""Writing video out: H.264 MP4 with the source's audio, and GIF, streamed frame by frame.

Every output is written to a hidden temporary file beside the target and renamed only when
complete, so a failure or Ctrl-C never leaves a broken file under the output name.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from absl import logging

from vaest.io import children
from vaest.io.atomic import disk_full, temp_file
from vaest.io.imaging import to_uint8
from vaest.io.video import VideoError, local, probe

children.tie_imageio_ffmpeg()  # a killed run leaves no ffmpeg behind

H264_MAX_SIDE = 16384  # libx264 refuses wider or taller frames


def require_encodable(size: tuple[int, int], path: str | Path) -> None:
    """Refuse, before any frame is made, an MP4 frame size (height, width) H.264 cannot hold."""
    if max(size) > H264_MAX_SIDE:
        raise VideoError(
            f"{path}: an MP4 frame of {size[1]}x{size[0]} is beyond H.264's {H264_MAX_SIDE} pixels "
            "a side: choose a smaller --output_size (or no --side_by_side)"
        )


AUDIO_RATE = 16000  # sample rate used when decoding audio for measurement


class _Abort(BaseException):
    """Thrown into imageio-ffmpeg's writer so that it kills ffmpeg instead of finishing."""


def _kill(gen) -> None:
    """End an imageio-ffmpeg writer by killing ffmpeg, not by letting it finish the file."""
    try:
        gen.throw(_Abort())
    except (_Abort, StopIteration, RuntimeError, OSError):
        pass


def _temp_path(path: Path, kind: str = "") -> Path:
    """A new hidden file beside path, like .out.video.tmp-PID-k3j2x.mp4 (vaest.io.atomic)."""
    return temp_file(path, f"{kind}." if kind else "")


def _ffmpeg(*args: str) -> subprocess.CompletedProcess:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, errors="replace", preexec_fn=children.preexec()
    )


def has_audio_stream(path: str | Path) -> bool:
    """Whether a media file (video or audio-only) has an audio stream, from ffmpeg's header dump."""
    stderr = _ffmpeg("-i", local(path)).stderr
    return re.search(r"Stream #\S+.*: Audio:", stderr) is not None


def read_comment(path: str | Path) -> str | None:
    """The container's `comment` metadata tag (what ffprobe shows under format_tags), or None."""
    result = _ffmpeg("-v", "error", "-i", local(path), "-f", "ffmetadata", "-")
    if result.returncode != 0:
        raise VideoError(f"{path}: metadata could not be read")
    for line in result.stdout.splitlines():
        if line.startswith("comment="):
            return re.sub(r"\\(.)", r"\1", line[len("comment=") :])  # ffmetadata escapes
    return None


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


class VideoWriter:
    """Stream RGB frames into an H.264 (yuv420p) MP4, optionally with audio from another file.

    with VideoWriter("out.mp4", fps=25, size=(180, 320), audio_source="in.mp4") as writer:
        for frame in frames:
            writer.write(frame)  # uint8 [H, W, 3], or float in [0, 1]

    - size is (height, width). H.264 yuv420p needs even sides: an odd side is padded by one
      pixel that repeats the edge, so the picture is never scaled or distorted.
    - audio_source: the first audio track of this file is muxed in, cut to [start,
      start + duration) to match a trimmed video, padded with silence if it runs out and cut
      at the video's end. A source without audio gives a silent video.
    - crf and preset are libx264's quality (lower is better, 18 is visually lossless) and speed.
    - comment: text for the container's `comment` tag (read_comment reads it back).
    - The file appears under `path` only when the writer closes without an error.

    With audio, the frames go to a silent temporary video first and the sound is added when
    it closes (the video stream is copied, not re-encoded): only then is the video's length
    known, so the soundtrack can be cut at its last frame exactly.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | Fraction,
        size: tuple[int, int],
        audio_source: str | Path | None = None,
        start: float | None = None,
        duration: float | None = None,
        crf: int = 18,
        preset: str = "medium",
        comment: str | None = None,
    ):
        self.path = Path(path)
        self._metadata = ["-metadata", f"comment={comment}"] if comment else []
        if not self.path.parent.is_dir():
            raise VideoError(f"{self.path}: the folder {self.path.parent} does not exist")
        if audio_source is not None:
            if not Path(audio_source).is_file():
                raise VideoError(f"{audio_source}: no such file (the audio source)")
            if _same_file(self.path, Path(audio_source)):
                raise VideoError(f"{self.path}: the output would overwrite its audio source")
        self.size = (int(size[0]), int(size[1]))
        self.fps = fps
        self.frames = 0
        height, width = self.size
        self._pad = (height % 2, width % 2)
        if any(self._pad):
            logging.info(
                "%s: %dx%d is padded to %dx%d (H.264 yuv420p needs even sizes; edge repeated)",
                self.path.name,
                width,
                height,
                width + self._pad[1],
                height + self._pad[0],
            )
        self._audio = None
        if audio_source is not None:
            if has_audio_stream(audio_source):
                self._audio = (Path(audio_source), start, duration)
            else:
                logging.info("%s has no audio track: writing a silent video", audio_source)
        self._tmp = _temp_path(self.path)
        # With audio, frames go to a silent intermediate first (see the class notes).
        self._video_tmp = _temp_path(self.path, "video") if self._audio else self._tmp
        try:
            self._gen = imageio_ffmpeg.write_frames(
                local(self._video_tmp),
                (width + self._pad[1], height + self._pad[0]),
                fps=fps,
                quality=None,  # crf is passed explicitly
                codec="libx264",
                macro_block_size=1,  # sizes are made even here, by padding, never by scaling
                ffmpeg_log_level="error",
                output_params=[
                    *("-crf", str(crf), "-preset", preset, "-movflags", "+faststart"),
                    *self._metadata,
                ],
            )
            self._gen.send(None)
        except BaseException:
            self._remove_temporaries()
            raise

    def write(self, frame: np.ndarray) -> None:
        frame = to_uint8(frame)
        if frame.shape != (*self.size, 3):
            raise ValueError(f"frame shape {frame.shape} != {(*self.size, 3)} set for the writer")
        if any(self._pad):
            frame = np.pad(frame, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        with self._disk_full_named():
            self._gen.send(np.ascontiguousarray(frame))
        self.frames += 1

    @contextmanager
    def _disk_full_named(self) -> Iterator[None]:
        """ffmpeg stopped: when its words say the disk is full, say so, naming the folder."""
        try:
            yield
        except OSError as err:
            full = disk_full(err, self.path.parent)
            if full is not None:
                raise full from None
            raise

    def close(self) -> None:
        """Finish the file and move it into place; raises VideoError if ffmpeg failed."""
        try:
            with self._disk_full_named():
                self._gen.close()
            if self.frames == 0:
                raise VideoError(f"{self.path}: no frames were written")
            try:
                probe(self._video_tmp)
            except VideoError as err:
                raise VideoError(f"{self.path}: ffmpeg did not finish the video ({err})") from err
            if self._audio:
                self._mux_audio()
            os.replace(self._tmp, self.path)
        finally:
            self._remove_temporaries()

    def _mux_audio(self) -> None:
        source, start, duration = self._audio
        audio_input = ["-ss", f"{start:.6f}"] if start else []
        audio_input += ["-t", f"{duration:.6f}"] if duration else []
        _run_checked(
            self.path,
            *("-i", local(self._video_tmp), *audio_input, "-i", local(source)),
            *("-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac"),
            # Pad a short soundtrack with silence, then cut it where the last frame ends.
            *("-af", "apad", "-t", f"{self.frames / float(self.fps):.6f}"),
            *self._metadata,
            *("-movflags", "+faststart", "-y", local(self._tmp)),
        )

    def _remove_temporaries(self) -> None:
        self._tmp.unlink(missing_ok=True)
        self._video_tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        """Stop ffmpeg at once and remove the partial file."""
        try:
            _kill(self._gen)
        finally:
            self._remove_temporaries()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_gif(path: str | Path, frames, fps: float) -> int:
    """Write RGB frames as a looping GIF with one palette made for these frames; returns the count.

    Frames are streamed into a lossless FFV1 intermediate, ffmpeg's palettegen picks the 256
    colours the whole clip needs, and paletteuse maps every frame onto them (with dithering).
    Memory stays bounded whatever the length. The GIF appears under `path` only on success.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise VideoError(f"{path}: the folder {path.parent} does not exist")
    tmp = _temp_path(path)
    try:
        with tempfile.TemporaryDirectory(prefix="vaest-gif-") as work:
            lossless = Path(work) / "frames.mkv"
            palette = Path(work) / "palette.png"
            count = _write_lossless(frames, lossless, fps)
            if count == 0:
                raise VideoError(f"{path}: no frames were written")
            _run_checked(path, "-i", str(lossless), "-vf", "palettegen", "-y", str(palette))
            _run_checked(
                path,
                *("-i", str(lossless), "-i", str(palette)),
                *("-lavfi", "paletteuse", "-loop", "0", "-f", "gif", "-y", str(tmp)),
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _write_lossless(frames, path: Path, fps: float) -> int:
    """Stream frames into an FFV1 (lossless RGB) file; returns how many were written."""
    gen, shape, count = None, None, 0
    try:
        for frame in frames:
            frame = to_uint8(frame)
            if gen is None:
                shape = frame.shape
                gen = imageio_ffmpeg.write_frames(
                    str(path),
                    (shape[1], shape[0]),
                    fps=fps,
                    codec="ffv1",
                    pix_fmt_out="bgr0",
                    quality=None,
                    macro_block_size=1,
                    ffmpeg_log_level="error",
                )
                gen.send(None)
            elif frame.shape != shape:
                raise ValueError(f"frame shape {frame.shape} != first frame's {shape}")
            gen.send(np.ascontiguousarray(frame))
            count += 1
    except BaseException:
        if gen is not None:
            _kill(gen)
        raise
    if gen is not None:
        gen.close()
    return count


def _run_checked(target: Path, *args: str) -> None:
    result = _ffmpeg("-v", "error", *args)
    full = disk_full(OSError(result.stderr), target.parent) if result.returncode else None
    if full is not None:
        raise full
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] or ["unknown error"]
        raise VideoError(f"{target}: ffmpeg failed ({last[0]})")


def stream_info(path: str | Path) -> dict:
    """Facts about a written video, measured rather than taken from the header where it matters.

    frames: decoded frame count; fps, width, height, duration (container, seconds) and has_audio
    from the header; audio_duration: seconds of decoded audio (0.0 when there is none).
    """
    path = Path(path)
    info = probe(path)
    frames, _ = imageio_ffmpeg.count_frames_and_secs(local(path))
    return {
        "frames": int(frames),
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "duration": info.duration,
        "has_audio": info.has_audio,
        "audio_duration": _audio_samples(path) / AUDIO_RATE if info.has_audio else 0.0,
    }


def _decode_audio_cmd(path: Path, rate: int) -> list[str]:
    return [
        *(imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", local(path)),
        *("-vn", "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(rate), "-"),
    ]


def _audio_samples(path: Path, rate: int = AUDIO_RATE) -> int:
    """Count decoded mono samples at `rate` without holding the audio in memory."""
    with subprocess.Popen(
        _decode_audio_cmd(path, rate), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as proc:
        total = 0
        while chunk := proc.stdout.read(1 << 20):
            total += len(chunk)
    if proc.returncode != 0:
        raise VideoError(f"{path}: audio could not be decoded")
    return total // 2


def decode_audio(path: str | Path, rate: int = AUDIO_RATE) -> np.ndarray:
    """The whole first audio track as mono float32 samples in [-1, 1] at `rate` (short clips)."""
    result = subprocess.run(_decode_audio_cmd(Path(path), rate), capture_output=True)
    if result.returncode != 0:
        raise VideoError(f"{path}: audio could not be decoded")
    return np.frombuffer(result.stdout, np.int16).astype(np.float32) / 32768.0
