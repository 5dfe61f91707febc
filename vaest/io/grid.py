"""Image grids for previews and evaluation sheets."""

from __future__ import annotations

import numpy as np

from vaest.io.imaging import to_uint8


def rows_grid(rows: list, gap: int = 2, background: int = 255) -> np.ndarray:
    """Stack rows of equally sized images [N,H,W,3] into one uint8 picture, row over row."""
    rows = [to_uint8(r) for r in rows]
    n = max(len(r) for r in rows)
    h, w = rows[0].shape[1:3]
    out = np.full((len(rows) * (h + gap) + gap, n * (w + gap) + gap, 3), background, np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            top, left = gap + i * (h + gap), gap + j * (w + gap)
            out[top : top + h, left : left + w] = image
    return out
