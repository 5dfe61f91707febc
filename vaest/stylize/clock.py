"""The stream clock: when each frame of a stream is shown, in seconds of the input.

A video's frame i is at start + i / rate (--start, the exact frame rate); an image has no time,
so a picture is frame 0 of a clock at 0 s (a timeline gives it its first target). The stylizer,
the painter's stage and the optimiser each count their own frames on the plan's one clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clock:
    start: float = 0.0  # seconds of the input at frame 0
    rate: float = 1.0  # frames per second

    def times(self, first: int, count: int) -> np.ndarray:
        """The times of frames first, first + 1, ..., first + count - 1."""
        return self.start + np.arange(first, first + count) / self.rate
