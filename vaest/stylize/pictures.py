"""The job's input pictures at full size, in the order they are stylized.

A video's frames (its requested range, decoded anew at each pass: the centroid pass, the model's
pass and the composer's or optimiser's second look each read their own), or an image's or a
folder's images, each with its name in the output folder.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vaest.io.imaging import load_image


class Pictures:
    """The input pictures of a vaest.stylize.job.Job, made by the plan."""

    def __init__(self, job):
        self.name = job.input.name
        self.video = job.kind == "video"
        self.count = job.total_frames  # a video's: an estimate from its header
        self._job = job  # a video's frames are read through the job's range
        self._paths = [] if self.video else ([job.input] if job.kind == "image" else job.images)
        # A folder's pictures keep their names below it; a lone image is the output itself.
        folder = job.kind == "folder"
        self._names = [p.relative_to(job.input) if folder else None for p in self._paths]

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.video:
            yield from self._job.frames()
        else:
            for path in self._paths:
                yield load_image(path)

    def first_size(self) -> tuple[int, int]:
        """The first picture's (height, width): a video's frames all have it."""
        if self.video:
            return self._job.info.display_size
        return load_image(self._paths[0]).shape[:2]

    def spaced(self, most: int) -> tuple[int, Iterator[np.ndarray]]:
        """(stride, every stride-th picture): at most about `most` of them, evenly spaced."""
        stride = max(1, math.ceil(self.count / most))
        if self.video:
            return stride, (f for i, f in enumerate(self._job.frames()) if i % stride == 0)
        return stride, (load_image(p) for p in self._paths[::stride])

    def named(self) -> Iterator[tuple[Path | None, np.ndarray]]:
        """(the name in the output folder, or None for a lone image, the picture) pairs."""
        return zip(self._names, self, strict=True)
