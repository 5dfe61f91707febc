"""Sharp output larger than the model: the frame's own detail at the output size, and the model's
change upsampled along the frame's edges.

A 72x128 model resized up to 1280x720 is soft, however good the model: nothing above the model's
resolution survives. The structure-keeping methods (residual, split) change a frame x into
x + delta, where delta (the model's colour and texture change) is smooth. So at the output size

    out = detail * X + G(styled - detail * x)

with X the frame at the output size and x the same frame at the model size. G is a fast guided
filter (He & Sun 2015, "Fast Guided Filter"): at the model size, each channel of the change is
fitted locally as a linear function of the frame's luminance, q = A * I + B over a small window;
A and B are upsampled bilinearly and applied to the full-size luminance. Where the frame has an
edge the change follows it, so colour does not bleed across it, and the edge itself comes from X.
The work at the output size is two resizes and a multiply-add per pixel, and one frame at a time.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vaest.io.imaging import as_float_images

UPSAMPLINGS = ("guided", "resize")  # --upsample
RADIUS = 2  # model pixels: the window of the local linear fit, (2r+1)^2
# Regularises A: edges weaker than about sqrt(eps) = 0.1 do not steer the change. Smaller
# follows edges more tightly but lets a contrast change of the model act on fine detail too.
# Measured on a 1280x720 testsrc2 frame, tiny model: eps 1e-3 keeps 0.59 of the frame's gradient
# energy, 1e-2 0.68, 1e-1 0.74 (near a plain resize of the change); the model's change itself
# keeps 0.73 at the model size.
EPSILON = 1e-2


def grey(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB [H, W, 3] image, [H, W] float32 in the image's units."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    size = (2 * radius + 1, 2 * radius + 1)
    return cv2.boxFilter(image, -1, size, normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_upsample(change, guide_low, guide_high, radius=RADIUS, epsilon=EPSILON) -> np.ndarray:
    """The fast guided filter: change [h, w, 3] at the size of guide_low [h, w] (luminance),
    upsampled to guide_high's size [H, W] along guide_high's edges. float32 [H, W, 3].

    The guides are in the same units, and epsilon in those units squared (the default: [0, 1]).
    """
    p = np.ascontiguousarray(change, np.float32)
    mean_i, mean_p = _box(guide_low, radius)[..., None], _box(p, radius)
    covariance = _box(p * guide_low[..., None], radius) - mean_i * mean_p
    variance = _box(guide_low * guide_low, radius)[..., None] - mean_i**2
    a = covariance / (variance + epsilon)
    b = mean_p - a * mean_i
    height, width = guide_high.shape
    # In place at the output size: a 4K frame's float planes are 100 MB each.
    out = cv2.resize(_box(a, radius), (width, height), interpolation=cv2.INTER_LINEAR)
    out *= guide_high[..., None]
    out += cv2.resize(_box(b, radius), (width, height), interpolation=cv2.INTER_LINEAR)
    return out


def detail_upsample(styled, fitted, source, detail: float = 1.0) -> np.ndarray:
    """out = detail * source + G(styled - detail * fitted), uint8 at source's size.

    styled, fitted: the model output and the model input (the picture's part only), at the model
    size; source: the input frame (uint8) at the output size. Worked in 8-bit units, so that the
    full-size steps are OpenCV's threaded ones.
    """
    styled, fitted = as_float_images(styled) * 255.0, as_float_images(fitted) * 255.0
    change = styled - detail * fitted
    out = guided_upsample(change, grey(fitted), grey(source), epsilon=EPSILON * 255.0**2)
    out = cv2.addWeighted(out, 1.0, source, float(detail), 0.0, dtype=cv2.CV_32F)
    np.maximum(out, 0.0, out=out)  # convertScaleAbs takes absolute values, then saturates
    return cv2.convertScaleAbs(out)


def colour_guide(frame, styled, rebuilt, kind: str = "change") -> np.ndarray:
    """The colour guide at the frame's size, float32 [H, W, 3] in [0, 1].

    frame: the frame at the paint resolution; styled = decode(z') and rebuilt = decode(mu) at the
    model size. "change": the frame plus the shift's change styled - rebuilt, upsampled along the
    frame's edges as the residual method does (vaest.upsample); "decode": styled resized.
    """
    base, change = guide_parts(frame, styled, rebuilt, kind)
    return np.clip(base + change, 0.0, 1.0)


def guide_parts(frame, styled, rebuilt, kind: str = "change"):
    """(base, change), float32 [H, W, 3]: colour_guide is clip(base + change). Both
    upsamplings are linear, so the change of a shift alpha times as strong is alpha * change:
    the painter's training draws strengths from one change made per frame."""
    frame = as_float_images(frame)
    height, width = frame.shape[:2]
    difference = as_float_images(styled) - as_float_images(rebuilt)
    if kind == "decode":
        base = cv2.resize(as_float_images(rebuilt), (width, height), interpolation=cv2.INTER_LINEAR)
        return base, cv2.resize(difference, (width, height), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(frame, (styled.shape[1], styled.shape[0]), interpolation=cv2.INTER_AREA)
    return frame, guided_upsample(difference, grey(small), grey(frame))


def paint_resolution(
    height: int, width: int, brush: float, largest: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The size the painter trains on and paints a picture (or the paint data) of height x width
    at: 1/brush of it (PainterConfig.brush). With `largest`, the size of the frames the painter
    trained on, never more pixels than those: a larger picture is painted at their area, in its
    own aspect, so that its strokes keep the size they have relative to the frame (its own
    detail comes back in painted_upsample)."""
    height, width = height / brush, width / brush
    if largest is not None and height * width > largest[0] * largest[1]:
        scale = math.sqrt(largest[0] * largest[1] / (height * width))
        height, width = height * scale, width * scale
    return max(8, round(height)), max(8, round(width))


def painted_upsample(painted, frame_low, frame_high, detail: float = 1.0) -> np.ndarray:
    """The painter's output at the paint resolution brought to frame_high's size, float32 [0, 1].

    Resized (bicubic), plus `detail` times the frame's own detail above the paint resolution
    (frame_high minus frame_low resized): the frame's edges stay as sharp as the frame's, and
    the strokes keep their shape (a guided filter would fit them away: they do not follow the
    frame's luminance). frame_low: the frame at the paint resolution.
    """
    height, width = frame_high.shape[:2]
    # resize(painted) - detail * resize(frame_low) in one resize: a resize is linear
    change = as_float_images(painted) - detail * as_float_images(frame_low)
    up = cv2.resize(change, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(up + detail * as_float_images(frame_high), 0.0, 1.0)
