"""The export's judge of paint takes unseen windows of painted canvases for paintings, and refuses
frames and frames graded toward the canvases' palette."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vaest.measure.features import load_texture_features
from vaest.measure.paint_judge import fit_paint_judge, painted_share, painting_windows, quarters

FRAME = (64, 96)


def brushed_canvas(seed: int, size=(150, 220)) -> np.ndarray:
    """A canvas covered in thick strokes of a warm palette: a stand-in painting."""
    rng = np.random.default_rng(seed)
    palette = [(200, 60, 30), (240, 190, 40), (40, 30, 90), (230, 230, 210), (120, 20, 40)]
    canvas = Image.new("RGB", size[::-1], palette[3])
    draw = ImageDraw.Draw(canvas)
    for _ in range(500):
        x, y = rng.uniform(0, size[1]), rng.uniform(0, size[0])
        angle, length = rng.uniform(0, np.pi), rng.uniform(8, 30)
        end = (x + length * np.cos(angle), y + length * np.sin(angle))
        colour = palette[int(rng.integers(len(palette)))]
        draw.line([(x, y), end], fill=colour, width=int(rng.integers(3, 8)))
    return np.asarray(canvas)


def photo_frames(photo: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Frame-size windows of a photograph, as consecutive frames of a slow pan would be."""
    rng = np.random.default_rng(seed)
    small = np.asarray(Image.fromarray(photo).resize((photo.shape[1] // 2, photo.shape[0] // 2)))
    tops = rng.integers(0, small.shape[0] - FRAME[0], count)
    lefts = rng.integers(0, small.shape[1] - FRAME[1], count)
    return np.stack(
        [small[t : t + FRAME[0], x : x + FRAME[1]] for t, x in zip(tops, lefts, strict=True)]
    )


def test_quarters_tile_each_frame_in_order():
    frames = np.arange(2 * 4 * 6 * 3).reshape(2, 4, 6, 3)
    parts = quarters(frames)
    assert parts.shape == (8, 2, 3, 3)
    top = np.concatenate([parts[0], parts[1]], axis=1)
    bottom = np.concatenate([parts[2], parts[3]], axis=1)
    assert np.array_equal(np.concatenate([top, bottom]), frames[0])


def test_the_judge_tells_painted_windows_from_frames_and_graded_frames(photos):
    from vaest.colour import lab_statistics, reinhard_transfer

    texture = load_texture_features("auto")
    if texture is None:
        pytest.skip("no VGG16 weights (the hed extra)")
    paintings = [brushed_canvas(seed) for seed in range(3)]
    judge = fit_paint_judge(texture, paintings, photo_frames(photos["coffee"], 30, seed=0))
    assert judge.usable, judge.reason
    unseen_canvas = brushed_canvas(seed=7)
    held_windows = painting_windows([unseen_canvas], FRAME, 12, seed=5)  # frame-size windows
    unseen_frames = photo_frames(photos["chelsea"], 6, seed=1)
    graded = reinhard_transfer(unseen_frames / 255.0, lab_statistics(unseen_canvas / 255.0))
    assert painted_share(judge, texture, held_windows) >= 0.75
    assert painted_share(judge, texture, unseen_frames) <= 0.25
    assert painted_share(judge, texture, graded) <= 0.25
