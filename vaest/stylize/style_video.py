"""--target_video STYLE: content frame t takes its target from the style video's frame at time t.

This is the multi-style video of the seed stylizers: the style changes as the style video does.
- The latent methods move each frame toward the style frame's own latent: c_target(t) is the
  encoder's mean of the style frame at t, smoothed over --transition seconds (an exponential
  moving average with that time constant), so that z'_t = mu_t - a c_source + b c_target(t)
  (vaest.latent.Shift): with a = b = alpha, mu_t + alpha (enc(style_t) - c_source).
- The painter (--method paint on an export with one) takes those frames as its colour guide
  (residual's picture from z'_t) and, as its domain blend, the mix of its painting domains whose
  centroids come nearest to c_target(t): the strokes of the trained look the style frame is
  closest to, its colours from the guide.
- --method optimize takes the style frame's VGG features as its texture target.

A style video shorter than the content loops; a still image is one target for every frame. The
style video streams: only the current frame is held, and a loop decodes it again from the start.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from vaest.errors import UserError
from vaest.io import imaging, video

# c_target values kept for the painter's domain blend, which is asked a few batches after the
# stylizer's thread computed them (and drops them as it goes)
HISTORY = 1 << 16
RECENT = 64  # style frames kept after reading: more than a batch of content frames spans


def check_style_video(text: str | None) -> Path | None:
    """--target_video: an existing, readable video or image (checked without TensorFlow)."""
    if text is None or not str(text).strip():
        return None
    path = Path(text)
    if path.is_dir():
        raise UserError(f"--target_video {text} is a folder: name a video or an image")
    if path.exists() and not path.is_file():  # a FIFO would block the reader forever
        raise UserError(
            f"--target_video {text}: not a regular file (a FIFO, device or socket): "
            "name a video or an image"
        )
    if not path.is_file():
        raise UserError(f"--target_video {text}: no such file")
    if path.suffix.lower() in imaging.IMAGE_SUFFIXES:
        imaging.load_image(path)  # an ImageError (a UserError) names what is wrong
    else:
        info = video.probe(path)  # a VideoError for anything that is not a video
        if info.width < 1 or info.height < 1:
            raise UserError(f"--target_video {text}: the video has no frames")
    return path


class StyleFrames:
    """The style video's (or image's) frame at a time, cropped to fill the size asked (height,
    width): one reader serves the latent methods at the model size and the optimiser at its
    working size, which ask the same times a batch apart."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.still = self.path.suffix.lower() in imaging.IMAGE_SUFFIXES
        self.fps = 1.0 if self.still else video.probe(self.path).fps
        self.count: int | None = 1 if self.still else None  # known once the end was read
        self._frames = None
        self._position = -1  # index of self._frame
        self._frame = None
        self._recent: dict[int, np.ndarray] = {}  # the last RECENT frames read, by index
        self._fitted: dict[tuple, np.ndarray] = {}  # a still image at each size asked
        if self.still:
            self._frame = imaging.load_image(self.path)
            self._position = 0

    @staticmethod
    def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return imaging.fit_image(frame, tuple(size), "crop")

    def index_at(self, time: float) -> int:
        index = max(0, math.floor(time * self.fps + 1e-6))
        return index % self.count if self.count else index

    def at(self, time: float, size: tuple[int, int]) -> np.ndarray:
        """uint8 [H, W, 3] at size: the frame shown at `time` seconds (looping)."""
        if self.still:  # fitted once per size
            if tuple(size) not in self._fitted:
                self._fitted[tuple(size)] = self._fit(self._frame, size)
            return self._fitted[tuple(size)]
        index = self.index_at(time)
        if index in self._recent:
            return self._fit(self._recent[index], size)
        if self._frames is None or index < self._position:
            self._restart()
        while self._position < index:
            try:
                frame = next(self._frames)
            except StopIteration:
                if self._position < 0:
                    raise UserError(f"--target_video {self.path}: no frame could be read") from None
                self.count = self._position + 1
                self._restart()
                index %= self.count
                continue
            self._position += 1
            self._frame = frame
            self._recent[self._position] = frame
            self._recent.pop(self._position - RECENT, None)
        return self._fit(self._frame, size)

    def _restart(self) -> None:
        if self._frames is not None:
            self._frames.close()
        self._frames = video.iter_frames(self.path)
        self._position = -1


class StyleLatents:
    """c_target by time for the latent methods (a TargetSchedule's interface: `at`, `constant`,
    and for the painter `names` and `weights_at`): the style frame's mean latent, smoothed over
    `transition` seconds. Times are asked in order; asking a time again keeps the value."""

    constant = False

    def __init__(self, exported, frames: StyleFrames, transition: float):
        self.exported = exported
        self.frames = frames
        self.transition = float(transition)
        # the domains weights_at mixes: the painter's, in the order of its domain weights
        self.names = exported.painter_domains if exported.has_painter else []
        self.label = f"the frames of {frames.path.name}, smoothed over {transition:g} s"
        self._time = None
        self._value = None
        self._history = deque(maxlen=HISTORY)  # (time, c_target) as `at` gave them
        self._lock = threading.Lock()

    @classmethod
    def of_video(cls, exported, path: str | Path, transition: float) -> StyleLatents:
        """The c_target of the style video (or image) at path, read by one StyleFrames."""
        return cls(exported, StyleFrames(path), transition)

    def at(self, times) -> np.ndarray:
        times = np.atleast_1d(np.asarray(times, np.float64))
        size = self.exported.image_size
        styles = np.stack([self.frames.at(t, size) for t in times])
        means = self.exported.encode(styles)[0].astype(np.float64)
        out = np.empty_like(means)
        for i, (time, mean) in enumerate(zip(times, means, strict=True)):
            if self._value is None or self.transition == 0:
                self._value = mean
            else:
                keep = math.exp(-max(0.0, time - self._time) / self.transition)
                self._value = keep * self._value + (1.0 - keep) * mean
            self._time = time
            out[i] = self._value
        out = out.astype(np.float32)
        with self._lock:
            self._history.extend(zip(times, out, strict=True))
        return out

    def weights_at(self, times) -> np.ndarray:
        """[T, len(names)]: at each time, the mix of the painter's domains whose centroids come
        nearest to c_target there. It reads the values `at` gave (the stylizer's thread runs
        ahead of the painter), so the style video is decoded once; times are asked in order."""
        times = np.atleast_1d(np.asarray(times, np.float64))
        with self._lock:
            known = list(self._history)
        if not known:
            known = list(zip(times, self.at(times), strict=True))
        known_times = np.array([time for time, _ in known])
        rows = np.maximum(np.searchsorted(known_times, times + 1e-9, side="right") - 1, 0)
        with self._lock:  # what comes before the first time asked is never needed again
            history = self._history
            while len(history) > 1 and history[1][0] <= times[0] + 1e-9:
                history.popleft()
        centroids = np.stack([self.exported.domains[name].centroid for name in self.names])
        return nearest_mix(centroids, np.stack([known[row][1] for row in rows]))


def nearest_mix(centroids: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """[T, M] weights w >= 0 summing to 1 that make w @ centroids nearest to each target
    (least squares): the mix of domains a latent stands for. A target that is a mix of
    independent centroids gets that mix back."""
    centroids = np.asarray(centroids, np.float64)
    targets = np.atleast_2d(np.asarray(targets, np.float64))
    if len(centroids) == 1:
        return np.ones((len(targets), 1))
    # non-negative least squares with the sum-to-one row weighted far above the rest
    stiff = 1e3 * max(1.0, float(np.abs(centroids).max()))
    system = np.vstack([centroids.T, np.full((1, len(centroids)), stiff)])
    out = []
    for target in targets:
        weights, _ = nnls(system, np.append(target, stiff))
        out.append(weights / max(float(weights.sum()), 1e-12))
    return np.array(out)
