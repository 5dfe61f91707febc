"""Frames in order in, optimised pictures out: Ruder et al.'s warm start and temporal term.

Each frame after the first starts from the previous output warped along the input's flow (the
pixels it uncovers take whatever the warp brings there) and is pulled toward that warped output
on the pixels that stay visible (vaest.flow's DIS flow and its occlusion test). The first
frame, and a frame after a cut, start from the caller's first guess (a fast painted method) with
FIRST_FRAME_FACTOR times the iterations and no temporal term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vaest import flow
from vaest.stylize.optimize.choices import DEFAULT_ITERATIONS, DEFAULT_OPTIMIZER, DEFAULT_TEXTURE
from vaest.stylize.optimize.objective import Minimised, Objective, Weights, minimise
from vaest.stylize.stabilize import MIN_VISIBLE_SHARE

FIRST_FRAME_FACTOR = 3  # a first frame, or one after a cut, starts far from its optimum


@dataclass(frozen=True)
class OptimizeSettings:
    """How each frame is optimised; the names follow mogrify_video.py's flags."""

    iterations: int = DEFAULT_ITERATIONS  # per frame; FIRST_FRAME_FACTOR times more on a first
    optimizer: str = DEFAULT_OPTIMIZER  # lbfgs or adam
    texture: str = DEFAULT_TEXTURE  # sliced (Wasserstein) or gram
    temporal: bool = True  # Ruder et al.'s temporal term, for videos
    warm_start: bool = True  # False: every frame starts from itself (a cold start)
    weights: Weights = field(default_factory=Weights)

    @property
    def first_iterations(self) -> int:
        return self.iterations * FIRST_FRAME_FACTOR


class FrameOptimizer:
    """Call it on each frame of one stream, in order (float [H, W, 3] at the working size)."""

    def __init__(self, objective: Objective, settings: OptimizeSettings):
        self.objective = objective
        self.settings = settings
        self.cuts: list[int] = []  # frame indices that started afresh after the first
        self.last: Minimised | None = None  # the newest frame's result, for progress and tests
        self._index = -1
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: the next one starts afresh, as a first frame (for
        pictures that are not a stream, such as a folder's images)."""
        self._previous_input = self._previous_output = None

    def __call__(self, frame, colour, texture, first_guess: Callable[[], np.ndarray]):
        """The optimised picture of `frame`: colour is decode(z') (any size), texture the
        target's (vaest.stylize.optimize.textures), first_guess makes the start of a first frame."""
        self._index += 1
        frame = np.asarray(frame, np.float32)
        settings = self.settings
        pair = None
        if self._previous_input is not None:
            pair = flow.pair_flow(self._previous_input, frame)
            if pair.visible_share < MIN_VISIBLE_SHARE:
                self.cuts.append(self._index)
                pair = None
        previous = visible = None
        if pair is None:
            start = first_guess() if settings.warm_start else frame
            iterations = settings.first_iterations
        else:
            warped = flow.warp(self._previous_output, pair.flow)
            start = warped if settings.warm_start else frame
            iterations = settings.iterations
            if settings.temporal:
                previous, visible = warped, pair.visible
        target = self.objective.frame_target(frame, colour, texture, previous, visible)
        self.last = minimise(
            self.objective, start, target, iterations, optimizer=settings.optimizer
        )
        self._previous_input, self._previous_output = frame, self.last.picture
        return self.last.picture
