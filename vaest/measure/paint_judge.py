"""Whether frames at the paint resolution look painted: a style classifier on windows of them.

The export's verdict on the painter (vaest.measure.painter_gate) needs a judge that a colour
grade cannot pass. The texture ratio alone is not one: a painter that only moved the colours
halved it in `make demo` (0.65 against residual's 0.99) while its picture was a smeared wash.
The judge is vaest.measure.deception's classifier on VGG style descriptors, fitted on
- windows of the domain's paintings as the paint data holds them (scaled to cover a frame, so
  their strokes have the size they have in an output frame), and
- against windows of the training paint frames, those windows graded toward the paintings'
  palettes, and graded photographs (vaest.measure.negatives).

Windows are half a frame a side, cut at the frames' own pixel scale: a painting covering the
frame holds only one whole-frame crop, and resampling would change its strokes. A judged frame
counts as its four quarters.
"""

from __future__ import annotations

import numpy as np

from vaest.data.preview import evenly_spaced
from vaest.io.imaging import as_float_images

PAINTING_WINDOWS = 96  # random windows, spread evenly over the domain's paintings
TRAINING_FRAMES = 24  # training frames, evenly spaced, whose quarters are the negatives


def window_size(frame_size: tuple[int, int]) -> tuple[int, int]:
    """The judged windows' (height, width): half the frame's."""
    return frame_size[0] // 2, frame_size[1] // 2


def quarters(frames: np.ndarray) -> np.ndarray:
    """The four quarters of each frame [N, H, W, 3] -> [4N, H/2, W/2, 3], frame by frame."""
    height, width = window_size(frames.shape[1:3])
    return np.stack(
        [
            frame[row * height : (row + 1) * height, column * width : (column + 1) * width]
            for frame in frames
            for row in (0, 1)
            for column in (0, 1)
        ]
    )


def painting_windows(paintings, size: tuple[int, int], count: int, seed: int = 0) -> np.ndarray:
    """`count` random windows of `size` from the paintings (each at least that size), taken
    from each painting in turn: float32 [count, h, w, 3]."""
    rng = np.random.default_rng(seed)
    height, width = size
    windows = []
    for index in range(count):
        painting = paintings[index % len(paintings)]
        top = int(rng.integers(painting.shape[0] - height + 1))
        left = int(rng.integers(painting.shape[1] - width + 1))
        windows.append(painting[top : top + height, left : left + width])
    return as_float_images(np.stack(windows))


def fit_paint_judge(texture, paintings, training_frames, seed: int = 0):
    """vaest.measure.deception.StyleClassifier of the paintings' windows against the training
    frames' quarters (TRAINING_FRAMES of them, evenly spaced) and their negatives."""
    from vaest.measure.deception import fit_painting_classifier

    picks = sorted(evenly_spaced(len(training_frames), TRAINING_FRAMES))
    frames = as_float_images(training_frames[picks])
    windows = painting_windows(paintings, window_size(frames.shape[1:3]), PAINTING_WINDOWS, seed)
    return fit_painting_classifier(texture, windows, quarters(frames), seed=seed)


def painted_share(judge, texture, frames) -> float | None:
    """The share of the frames' quarters the judge takes for paintings; None when it could not
    tell the paintings from the frames (judge.reason says why)."""
    from vaest.measure.deception import deception_rate
    from vaest.measure.features import style_descriptors

    return deception_rate(judge, style_descriptors(texture, quarters(as_float_images(frames))))
