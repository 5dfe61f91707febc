"""Temporal stability of a video: the warping error of Lai et al. (ECCV 2018) and its parts.

A stable output changes from one frame to the next only where the *input* moves. So the flow is
always measured on the input clip, whose motion is real, and the output is judged against it:
output frame t-1 is warped onto frame t and compared there, on the pixels that frame t-1 shows
too. "Learning Blind Video Temporal Consistency" (Lai et al., ECCV 2018) made this the standard
flicker measure; its visibility test comes from Ruder et al., "Artistic style transfer for videos"
(GCPR 2016).

Frames are RGB arrays [H, W, 3], uint8 or float in [0, 1]. Flows are float32 [H, W, 2] holding
(dx, dy) and always live on the grid of the frame they start from:

    flow = optical_flow(a, b)   means   a(p) ~ b(p + flow(p)),   so   warp(b, flow) ~ a.

Everything here streams: the meter keeps the previous input and output frame only, so a long video
never has to be held. numpy and OpenCV only, so it runs without TensorFlow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from vaest.io.imaging import as_float_images

# Ruder et al.'s thresholds, which Lai et al. keep; flows are in pixels.
ROUND_TRIP_RELATIVE = 0.01
ROUND_TRIP_ABSOLUTE = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002

# Below the error that 8-bit quantisation alone gives ((1/255)^2 / 12 ~ 1.3e-6): keeps the ratio
# of two near-zero errors finite and close to 1.
RATIO_EPSILON = 1e-7

# DIS needs frames of at least 8 px a side and 12 on one (cv2.error below): smaller frames are
# enlarged to this shortest side for the flow.
SMALLEST_FLOW_SIDE = 16

_local = threading.local()


def _dis() -> cv2.DISOpticalFlow:
    """One DIS object per thread: cheap to keep, and not safe to share between threads."""
    dis = getattr(_local, "dis", None)
    if dis is None:
        dis = _local.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis


def _grey_uint8(frame) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"expected an RGB frame shaped [H, W, 3], not {frame.shape}")
    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def optical_flow(source, target) -> np.ndarray:
    """DIS optical flow (OpenCV's medium preset) from source to target, on source's grid.

    Returns float32 [H, W, 2] (dx, dy) with source(p) ~ target(p + flow(p)).
    """
    source, target = _grey_uint8(source), _grey_uint8(target)
    if source.shape != target.shape:
        raise ValueError(f"frame sizes differ: {source.shape} vs {target.shape}")
    height, width = source.shape
    if min(height, width) >= SMALLEST_FLOW_SIDE:
        return _dis().calc(source, target, None)
    # DIS refuses frames under about 12 px (cv2.error): measured on the frames enlarged by a
    # whole factor, the flow is brought back to their grid and scale.
    scale = -(-SMALLEST_FLOW_SIDE // min(height, width))
    size = (width * scale, height * scale)
    big = [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in (source, target)]
    flow = _dis().calc(big[0], big[1], None)
    return cv2.resize(flow, (width, height), interpolation=cv2.INTER_AREA) / np.float32(scale)


@lru_cache(maxsize=8)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def warp(image, flow: np.ndarray) -> np.ndarray:
    """Backward warp: sample image at p + flow(p), bilinear, replicating the border.

    The result lives on flow's grid; image may have any number of channels up to 4.
    """
    image = np.asarray(image)
    if image.dtype == np.float64:
        image = image.astype(np.float32)
    xs, ys = _grid(*flow.shape[:2])
    return cv2.remap(
        image,
        xs + flow[..., 0],
        ys + flow[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    return flow[..., 0] ** 2 + flow[..., 1] ** 2


def _squared_gradient(flow: np.ndarray) -> np.ndarray:
    """|grad u|^2 + |grad v|^2 with forward differences (zero on the last row and column)."""
    dx = np.zeros_like(flow)
    dy = np.zeros_like(flow)
    dx[:, :-1] = flow[:, 1:] - flow[:, :-1]
    dy[:-1] = flow[1:] - flow[:-1]
    return np.sum(dx**2 + dy**2, axis=-1)


def visibility_mask(flow: np.ndarray, reverse_flow: np.ndarray) -> np.ndarray:
    """Where a frame's pixels are also seen in another frame: bool [H, W], True = visible.

    flow goes from this frame to the other one, on this frame's grid (the flow that warps the
    other frame here); reverse_flow goes from the other frame back, on the other frame's grid.
    For the warping error of frame t, flow = optical_flow(frame_t, frame_t-1) and reverse_flow =
    optical_flow(frame_t-1, frame_t).

    With R = warp(reverse_flow, flow), the reverse flow brought onto this grid, a pixel is
      - occluded where the round trip does not come back:
            |flow + R|^2 > 0.01 (|flow|^2 + |R|^2) + 0.5
      - on a motion boundary, where the flow is unreliable:
            |grad flow_x|^2 + |grad flow_y|^2 > 0.01 |flow|^2 + 0.002
      - out of view where p + flow(p) leaves the other frame (as Ruder et al.'s checker does).
    Visible is none of these. These are Ruder et al.'s equations, with flow = their backward flow
    w^ and R = their warped forward flow w~, so the motion-boundary test is on flow itself, not on
    R. Lai et al.'s code names its checker's arguments (fw, bw) but passes (bw, fw): its mask is
    for frame t-1, onto which it warps frame t. The test is the same; here the mask is for the
    later frame and the arguments are named for what they are.
    """
    reverse_here = warp(reverse_flow, flow)
    flow_size = _squared_norm(flow)
    occluded = _squared_norm(flow + reverse_here) > (
        ROUND_TRIP_RELATIVE * (flow_size + _squared_norm(reverse_here)) + ROUND_TRIP_ABSOLUTE
    )
    boundary = _squared_gradient(flow) > BOUNDARY_RELATIVE * flow_size + BOUNDARY_ABSOLUTE
    xs, ys = _grid(*flow.shape[:2])
    target_x, target_y = xs + flow[..., 0], ys + flow[..., 1]
    height, width = flow.shape[:2]
    outside = (target_x < 0) | (target_x > width - 1) | (target_y < 0) | (target_y > height - 1)
    return ~(occluded | boundary | outside)


@dataclass(frozen=True)
class PairFlow:
    """How a later input frame maps back onto an earlier one, and which of its pixels it can."""

    flow: np.ndarray  # later -> earlier, on the later frame's grid: warp(earlier, flow) ~ later
    visible: np.ndarray  # bool, on the later frame's grid

    @property
    def visible_share(self) -> float:
        return float(np.mean(self.visible))


def pair_flow(earlier_input, later_input) -> PairFlow:
    """Flow and visibility that bring frame `earlier_input` onto frame `later_input`."""
    backward = optical_flow(later_input, earlier_input)
    forward = optical_flow(earlier_input, later_input)
    return PairFlow(backward, visibility_mask(backward, forward))


def squared_difference(earlier, later, flow: np.ndarray) -> np.ndarray:
    """Per pixel of `later`: its squared difference to the warped `earlier`, mean over RGB.

    Values in [0, 1], so the result is in [0, 1] too: float32 [H, W].
    """
    later = as_float_images(later)
    if later.shape[:2] != flow.shape[:2]:
        raise ValueError(f"frame size {later.shape[:2]} differs from the flow's {flow.shape[:2]}")
    return np.mean((later - warp(as_float_images(earlier), flow)) ** 2, axis=-1)


def visible_mean(values: np.ndarray, visible: np.ndarray) -> float:
    """Mean of per-pixel values over the visible pixels.

    As in Lai et al.'s evaluation, a pair without any visible pixel (a cut) is averaged over the
    whole frame.
    """
    if not visible.any():
        visible = np.ones_like(visible)
    return float(np.sum(values, where=visible, dtype=np.float64) / np.count_nonzero(visible))


def pair_error(earlier, later, pair: PairFlow) -> float:
    """The warping error of one pair of frames: the one formula that every figure here uses.

    The squared RGB difference between `later` and the warped `earlier` (values in [0, 1]),
    averaged over the 3 channels and then over the visible pixels of `later`.
    """
    return visible_mean(squared_difference(earlier, later, pair.flow), pair.visible)


@dataclass(frozen=True)
class WarpingError:
    """Warping errors per pair of frames (for a plot over time) and their mean."""

    per_pair: np.ndarray  # float64 [pairs]

    @property
    def mean(self) -> float:
        """The clip's figure; NaN for a clip of fewer than two frames."""
        return float(np.mean(self.per_pair)) if self.per_pair.size else float("nan")


class _PairFlows:
    """Turns a stream of input frames into the PairFlow of each consecutive pair."""

    def __init__(self):
        self._previous = None

    def add(self, input_frame) -> PairFlow | None:
        """The flow from this frame back to the one before; None for the first frame."""
        pair = None if self._previous is None else pair_flow(self._previous, input_frame)
        self._previous = np.array(input_frame)  # a copy: readers may reuse their buffer
        return pair


class WarpingErrorMeter:
    """Accumulates the warping error frame by frame, keeping only the previous frames."""

    def __init__(self):
        self._flows = _PairFlows()
        self._previous_output = None
        self._errors: list[float] = []

    def add(self, input_frame, output_frame) -> float | None:
        """Add the next frame; returns the error of the pair it ends (None for the first)."""
        return self.add_output(output_frame, self._flows.add(input_frame))

    def add_output(self, output_frame, pair: PairFlow | None) -> float | None:
        """Add the next output with its pair's precomputed input flow (None for the first frame)."""
        error = None
        if pair is not None:
            if self._previous_output is None:
                raise ValueError("a flow was given for the first frame")
            error = pair_error(self._previous_output, output_frame, pair)
            self._errors.append(error)
        self._previous_output = np.array(output_frame)
        return error

    def result(self) -> WarpingError:
        return WarpingError(np.array(self._errors, dtype=np.float64))


def input_flows(inputs: Iterable) -> list[PairFlow]:
    """Every consecutive pair's flow of an input clip, to score several outputs of it."""
    stream = _PairFlows()
    return [pair for pair in map(stream.add, inputs) if pair is not None]


def warping_error(
    outputs: Iterable, inputs: Iterable | None = None, *, flows: Iterable[PairFlow] | None = None
) -> WarpingError:
    """Lai et al.'s warping error of outputs, with flow from inputs or precomputed flows.

    Give either the input frames or `flows=input_flows(inputs)`, which saves recomputing the
    flow when several outputs of the same clip are scored. Frames may come from a generator.
    """
    if (inputs is None) == (flows is None):
        raise ValueError("give either the input frames or their flows")
    meter = WarpingErrorMeter()
    if flows is not None:
        for output, pair in zip(outputs, [None, *flows], strict=True):
            meter.add_output(output, pair)
    else:
        for output, input_frame in zip(outputs, inputs, strict=True):
            meter.add(input_frame, output)
    return meter.result()


UNDEFINED = "fewer than two frames: the temporal error compares consecutive frames"


class TemporalMeter:
    """The output's warping error, the input's own and their ratio, frame by frame.

    The input is scored with the same flows, so the ratio cancels what the flow gets wrong. Flow is
    computed once per pair, and only the previous frames are held.
    """

    def __init__(self):
        self._flows = _PairFlows()
        self._output, self._input = WarpingErrorMeter(), WarpingErrorMeter()

    def add(self, input_frame, output_frame) -> None:
        pair = self._flows.add(input_frame)
        self._output.add_output(output_frame, pair)
        self._input.add_output(input_frame, pair)

    def output_errors(self) -> WarpingError:
        """The output's error pair by pair, for a plot over time."""
        return self._output.result()

    def figures(self) -> dict[str, float | str | None]:
        """warping_error, input_warping_error and ratio (1.0 = as stable as the source); None,
        with the reason under "undefined", for a clip of fewer than two frames."""
        if not self._output.result().per_pair.size:
            return {
                "warping_error": None,
                "input_warping_error": None,
                "ratio": None,
                "undefined": UNDEFINED,
            }
        output_error, input_error = self._output.result().mean, self._input.result().mean
        return {
            "warping_error": output_error,
            "input_warping_error": input_error,
            "ratio": (output_error + RATIO_EPSILON) / (input_error + RATIO_EPSILON),
        }


def temporal_figures(outputs: Iterable, inputs: Iterable) -> dict[str, float]:
    """TemporalMeter's figures for a whole clip."""
    meter = TemporalMeter()
    for output, input_frame in zip(outputs, inputs, strict=True):
        meter.add(input_frame, output)
    return meter.figures()


def long_term_error(outputs: Iterable, inputs: Iterable) -> WarpingError:
    """Frame 0 against every later frame t, on the pixels of t that frame 0 shows too.

    For static or nearly static shots, where slow drift hides from the frame-to-frame error. The
    flow from t to 0 is computed directly on the inputs; per_pair[k] is the error of frame k + 1.
    Keeps only frame 0 of each clip.
    """
    errors = []
    first_input = first_output = None
    for output, input_frame in zip(outputs, inputs, strict=True):
        if first_input is None:
            first_input, first_output = np.array(input_frame), np.array(output)
            continue
        errors.append(pair_error(first_output, output, pair_flow(first_input, input_frame)))
    return WarpingError(np.array(errors, dtype=np.float64))
