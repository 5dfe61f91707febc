"""Flicker removal after stylisation: blend each frame with the previous output, moved by the flow.

A model that stylises frames one at a time flickers, because nothing ties frame t to frame t-1.
The stabilizer carries the previous *output* along the motion of the *input* (whose motion is
real) and mixes it into the new frame where that motion is trustworthy:

    out_t = m * (w * warp(out_t-1) + (1 - w) * s_t) + (1 - m) * s_t

with s_t the stylised frame and w the weight. m is the visibility mask of vaest.flow (flow
from frame t back to t-1, checked against the other direction), faded where the warped previous
input does not match the current input: DIS smears flow over object edges, and such a smear can
pass the round-trip test. Pixels just uncovered, on motion boundaries or badly matched take the
new frame alone, so moving objects do not leave ghosts behind. Since it uses
the previous output, the blend is a recursive filter: flicker falls to about (1-w)^2 / (1+w) of
its power, about 1/19 at w = 0.7. At a scene cut the history is dropped and out_t = s_t exactly.

It streams: only the previous input and output frame are kept.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from vaest import flow
from vaest.io.imaging import as_float_images

# A pair whose flow leaves less than this share of the frame visible is a cut. Measured with DIS:
# cuts between unrelated photos leave 0.01-0.03 visible; busy synthetic motion (ffmpeg testsrc2)
# still 0.57 at 180x320, real pans, zooms and turns 0.95 and more.
MIN_VISIBLE_SHARE = 0.25
# Input warping errors below this (an RMS difference of about 8 grey levels) are never a cut,
# however still the shot was before.
CUT_ERROR_FLOOR = 1e-3
# How fast the shot's typical input error follows new pairs.
TYPICAL_ERROR_DECAY = 0.9
# A frame that differs from the one before by less than this (mean squared, unwarped: an RMS of
# 2.5 grey levels) repeats it: a held drawing, a frame rate raised by repeating frames. Such a
# pair says nothing of the shot's motion and leaves its typical error alone. Counted, a run of
# repeats pulled the typical error to zero and the next drawing was taken for a cut: on a clip
# with repeated frames (tree.avi as decoded, a cel-shaded version of it) every change of picture
# was a cut and the blend never engaged (bench/flow_blend.py).
REPEATED_FRAME_DIFFERENCE = 1e-4
# Where the warped previous input does not match the current one, the flow is wrong there (a
# smeared object edge, a stray consistent match) even if it passed the visibility test, and the
# blend fades out: to half at an RMS mismatch of 0.068 (about 17 grey levels). Lai et al. weight
# their training loss the same way (exp(-50 |diff|^2) over summed channels = exp(-150 mean)).
INPUT_MISMATCH_SCALE = 150.0


def _mean_square(a, b) -> float:
    """Mean squared difference of two frames of one size, in [0, 1] units."""
    return float(np.mean((as_float_images(a) - as_float_images(b)) ** 2))


def _float_copy(frame) -> np.ndarray:
    """float32 in [0, 1], never sharing memory with the caller's array."""
    return np.array(as_float_images(frame), copy=True)


class FlowStabilizer:
    """Streaming stabilizer: call it on each (input frame, stylised frame) in order.

    weight: share of the warped previous output in visible pixels, in [0, 1); 0 turns it off.
    cut_threshold: a pair whose input warping error exceeds this many times the shot's typical
        one is a scene cut (as is a pair with less than a quarter of the frame visible).
    """

    def __init__(self, weight: float = 0.7, cut_threshold: float = 10.0):
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"the stabilizer weight must be in [0, 1), not {weight}")
        if cut_threshold <= 1.0:
            raise ValueError(f"the cut threshold must be above 1, not {cut_threshold}")
        self.weight = float(weight)
        self.cut_threshold = float(cut_threshold)
        self.cuts: list[int] = []  # frame indices where the history was dropped
        self._frame_index = -1
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame is output as it is, as after a cut."""
        self._previous_input = None
        self._previous_output = None
        self._typical_error = None

    def __call__(self, input_frame, stylized_frame) -> np.ndarray:
        """The stabilised frame, float32 [H, W, 3] in [0, 1].

        input_frame is the frame the model was given (uint8 or float); it is resized to the
        stylised frame's size if it differs, so both must have the same aspect.
        """
        self._frame_index += 1
        stylized = _float_copy(stylized_frame)
        current_input = self._fit(input_frame, stylized.shape[:2])
        output = stylized
        if self._previous_input is not None:
            pair = flow.pair_flow(self._previous_input, current_input)
            mismatch = flow.squared_difference(self._previous_input, current_input, pair.flow)
            repeated = _mean_square(current_input, self._previous_input) < REPEATED_FRAME_DIFFERENCE
            if self._is_cut(pair, flow.visible_mean(mismatch, pair.visible), repeated):
                self.cuts.append(self._frame_index)
                self._typical_error = None
            else:
                warped = flow.warp(self._previous_output, pair.flow)
                trust = pair.visible * np.exp(-INPUT_MISMATCH_SCALE * mismatch)
                blend = (np.float32(self.weight) * trust)[..., None]
                output = stylized + blend * (warped - stylized)
        self._previous_input, self._previous_output = current_input, output
        return output.copy()

    @staticmethod
    def _fit(input_frame, size: tuple[int, int]) -> np.ndarray:
        frame = np.array(input_frame)  # a copy: it is kept for the next frame
        if frame.shape[:2] != size:
            frame = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        return frame

    def _is_cut(self, pair: flow.PairFlow, input_error: float, repeated: bool) -> bool:
        """Most of the frame unmatched, or the input error jumping far above the shot's usual
        (which a repeated frame leaves as it is)."""
        if pair.visible_share < MIN_VISIBLE_SHARE:
            return True
        if repeated:
            return False
        typical = self._typical_error
        if typical is not None and input_error > max(CUT_ERROR_FLOOR, self.cut_threshold * typical):
            return True
        decay = 0.0 if typical is None else TYPICAL_ERROR_DECAY
        self._typical_error = decay * (typical or 0.0) + (1.0 - decay) * input_error
        return False


def stabilize(
    inputs: Iterable, stylized: Iterable, weight: float = 0.7, cut_threshold: float = 10.0
) -> list[np.ndarray]:
    """Run a FlowStabilizer over a whole clip: one float32 output frame per input frame."""
    stabilizer = FlowStabilizer(weight, cut_threshold)
    return [stabilizer(i, s) for i, s in zip(inputs, stylized, strict=True)]
