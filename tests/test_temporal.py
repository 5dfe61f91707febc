"""The warping error (Lai et al. 2018) and the flow stabilizer, on clips cut from real photographs.

Clips are 64x96 windows sliding over a scaled-down photo, so the true motion is known. Bounds
were set from measured values with a wide margin; the measured value is noted next to each.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vaest import flow
from vaest.io.imaging import as_float_images
from vaest.stylize.stabilize import FlowStabilizer, stabilize

HEIGHT, WIDTH = 64, 96


def scaled(photo: np.ndarray, scale: float = 0.3) -> np.ndarray:
    return cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def pan(photo: np.ndarray, frames: int, step: int = 2, top: int = 10, left: int = 10) -> list:
    """A window sliding right by `step` pixels a frame: its content moves left by `step`."""
    return [
        photo[top : top + HEIGHT, left + step * i : left + step * i + WIDTH] for i in range(frames)
    ]


def jitter(frames: list, seed: int, gain: float = 0.1, offset: float = 0.05) -> list:
    """Per-frame random colour flicker: each channel scaled and shifted, as a flickering model."""
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        scale = 1 + rng.uniform(-gain, gain, 3)
        shift = rng.uniform(-offset, offset, 3)
        out.append(np.clip(as_float_images(frame) * scale + shift, 0, 1).astype(np.float32))
    return out


def moving_square(photos, frames: int, step: int, size: int = 24) -> tuple[list, int]:
    """A coffee-photo square moving right by `step` over a still astronaut background."""
    background = scaled(photos["astronaut"])[10 : 10 + HEIGHT, 10 : 10 + WIDTH]
    square = scaled(photos["coffee"])[20 : 20 + size, 40 : 40 + size]
    top = (HEIGHT - size) // 2
    clip = []
    for t in range(frames):
        frame = background.copy()
        frame[top : top + size, 12 + step * t : 12 + step * t + size] = square
        clip.append(frame)
    return clip, top


@pytest.fixture(scope="module")
def astronaut_pan(photos) -> list:
    return pan(scaled(photos["astronaut"]), 16)


def test_a_clip_scored_against_itself_is_as_stable_as_its_source(photos):
    # A zoom, so that the flow is not exact and the error is not zero.
    photo = scaled(photos["astronaut"], 0.4)
    clip = []
    for t in range(8):
        zoom = cv2.getRotationMatrix2D((100, 100), 0, 1.02**t)
        clip.append(cv2.warpAffine(photo, zoom, (WIDTH + 80, HEIGHT + 80))[40:-40, 40:-40])
    figures = flow.temporal_figures(clip, clip)
    assert figures["input_warping_error"] > 1e-5  # measured 2.0e-4
    assert figures["warping_error"] == figures["input_warping_error"]
    assert figures["ratio"] == 1.0
    assert flow.warping_error(clip, clip).mean == figures["warping_error"]


def test_a_translation_is_stable_and_shuffling_it_is_not(astronaut_pan):
    ordered = flow.warping_error(astronaut_pan, astronaut_pan)
    assert ordered.per_pair.shape == (15,)
    assert ordered.mean < 1e-5  # measured 5.9e-8: a 2 px shift is warped back exactly
    order = np.random.default_rng(0).permutation(len(astronaut_pan))
    shuffled = flow.warping_error([astronaut_pan[i] for i in order], astronaut_pan)
    assert shuffled.mean > 1e-2 and shuffled.mean > 1000 * ordered.mean  # measured 0.107


def test_pair_error_is_the_mean_squared_difference_over_visible_pixels(astronaut_pan):
    earlier, later = (as_float_images(f) for f in astronaut_pan[:2])
    later = later.copy()
    later[:, :40] += 0.1  # a known difference on the left of the frame
    field = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    field[..., 0] = 2.0  # the true flow: later(p) = earlier(p + 2 px in x)
    visible = np.ones((HEIGHT, WIDTH), bool)
    visible[:, -2:] = False  # what came in at the right edge
    visible[:10] = False
    pair = flow.PairFlow(field, visible)
    # 0.1^2 on 40 of the 94 visible columns, 0 elsewhere, in every channel.
    expected = 0.1**2 * 40 / (WIDTH - 2)
    assert flow.pair_error(astronaut_pan[0], later, pair) == pytest.approx(expected, rel=1e-5)


def test_the_meter_streams_the_same_numbers_as_the_whole_clip(astronaut_pan):
    outputs = jitter(astronaut_pan, seed=3)
    meter = flow.WarpingErrorMeter()
    streamed = [meter.add(i, o) for i, o in zip(astronaut_pan, outputs, strict=True)]
    assert streamed[0] is None
    whole = flow.warping_error(iter(outputs), iter(astronaut_pan))
    from_flows = flow.warping_error(outputs, flows=flow.input_flows(astronaut_pan))
    np.testing.assert_array_equal(meter.result().per_pair, streamed[1:])
    np.testing.assert_array_equal(whole.per_pair, streamed[1:])
    np.testing.assert_array_equal(from_flows.per_pair, streamed[1:])
    assert meter.result().mean == whole.mean > 1e-4  # measured 4.7e-3
    with pytest.raises(ValueError):
        flow.warping_error(outputs)


def test_the_visibility_mask_flags_a_revealed_strip_exactly():
    # A 20x20 square moves 4 px right over a still background; true flows, no estimation.
    size, top, left, step = 20, 22, 30, 4
    backward = np.zeros((HEIGHT, WIDTH, 2), np.float32)  # frame t -> t-1, on t's grid
    backward[top : top + size, left + step : left + step + size, 0] = -step
    forward = np.zeros((HEIGHT, WIDTH, 2), np.float32)  # frame t-1 -> t, on t-1's grid
    forward[top : top + size, left : left + size, 0] = step
    visible = flow.visibility_mask(backward, forward)
    revealed = visible[top : top + size, left : left + step]
    assert not revealed.any()
    rows = slice(top + 1, top + size - 1)
    assert visible[rows, left + step + 1 : left + step + size - 1].all()  # the square itself
    assert visible[:, : left - 1].all() and visible[:, left + step + size + 1 :].all()
    assert np.count_nonzero(~visible) < 2 * size * (step + 2)  # only around the square


def test_the_visibility_mask_flags_a_motion_boundary_and_leaving_pixels():
    # Shear: the top half moves 2 px right, the bottom half 2 px left. The flows agree both
    # ways, so only the boundary row (forward differences) and the frame edges are flagged.
    field = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    field[:32, :, 0], field[32:, :, 0] = 2.0, -2.0
    visible = flow.visibility_mask(field, -field)
    inner = slice(3, WIDTH - 3)
    assert not visible[31, inner].any()
    assert visible[:31, inner].all() and visible[32:, inner].all()
    assert not visible[:31, -2:].any() and not visible[32:, :2].any()  # leaving the frame


def test_estimated_flow_flags_the_pixels_a_moving_object_uncovers(photos):
    # DIS smears the flow over a few pixels at the square's edges, and a smeared flow can pass the
    # round-trip test, so only most of the uncovered strip is caught (all of it with true flow).
    step = 6
    clip, top = moving_square(photos, 7, step)
    revealed, square, background = [], [], []
    for t in range(1, 7):
        visible = flow.pair_flow(clip[t - 1], clip[t]).visible
        left = 12 + step * t
        revealed.append(visible[top : top + 24, left - step : left].mean())
        square.append(visible[top + 4 : top + 20, left + 4 : left + 20].mean())
        background.append(visible[:, left + 24 + 8 :].mean())
    assert max(revealed) < 0.5 and np.mean(revealed) < 0.3  # measured 0.28 and 0.14
    assert min(square) > 0.8 and np.mean(square) > 0.9  # measured 0.87 and 0.98
    assert min(background) > 0.9  # measured 0.97


def test_long_term_error_of_a_still_shot_does_not_grow(photos):
    still = as_float_images(scaled(photos["astronaut"])[40 : 40 + HEIGHT, 30 : 30 + WIDTH])
    rng = np.random.default_rng(0)
    noisy = [np.clip(still + rng.normal(0, 1 / 255, still.shape), 0, 1) for _ in range(30)]
    errors = flow.long_term_error(noisy, noisy).per_pair
    assert errors.shape == (29,)
    assert errors.max() < 1e-4  # measured 3.0e-5: just the noise, 2 sigma^2
    assert errors[-10:].mean() < 1.2 * errors[:10].mean()  # measured ratio 1.00
    # A slow drift hides from the frame-to-frame error but not from the long-term one.
    drifting = [np.clip(frame + 0.005 * t, 0, 1) for t, frame in enumerate(noisy)]
    assert flow.warping_error(drifting, noisy).mean < 1e-4  # measured 5.3e-5
    drift = flow.long_term_error(drifting, noisy).per_pair
    assert drift[-1] > 1e-2 and drift[-1] > 100 * drift[0]  # measured 0.020 and 5.5e-5


def test_the_stabilizer_removes_colour_flicker_without_blurring(astronaut_pan):
    clean = [as_float_images(f) for f in astronaut_pan]
    flickering = jitter(astronaut_pan, seed=1)
    stable = stabilize(astronaut_pan, flickering, weight=0.7)
    assert all(f.dtype == np.float32 and f.min() >= 0 and f.max() <= 1 for f in stable)
    before = flow.warping_error(flickering, astronaut_pan).mean
    after = flow.warping_error(stable, astronaut_pan).mean
    assert after < 0.2 * before  # measured 0.066 (theory for iid flicker: 0.053)

    def distance(frames):
        return np.mean([np.abs(f - c).mean() for f, c in zip(frames, clean, strict=True)])

    assert distance(stable) < 0.8 * distance(flickering)  # measured 0.019 vs 0.031

    def sharpness(frames):  # mean gradient magnitude of the luma, away from the border
        grey = [cv2.cvtColor(np.float32(f), cv2.COLOR_RGB2GRAY) for f in frames]
        return np.mean([np.hypot(*np.gradient(g))[4:-4, 4:-4].mean() for g in grey])

    assert sharpness(stable) > 0.95 * sharpness(clean)  # measured 1.00: warps stay aligned


def test_the_stabilizer_leaves_no_ghost_behind_a_moving_object(photos):
    clip, top = moving_square(photos, 9, step=3)
    clean = [as_float_images(f) for f in clip]
    stable = stabilize(clip, clean, weight=0.9)
    for t in range(1, 9):
        trail = np.abs(stable[t] - clean[t])[top : top + 24, 12 + 3 * (t - 1) - 4 : 12 + 3 * t]
        assert trail.max() < 0.2  # measured 0.05; 0.66 with the round-trip test alone


def test_a_hard_cut_resets_the_stabilizer(photos):
    first, second = pan(scaled(photos["astronaut"]), 8), pan(scaled(photos["coffee"]), 8)
    inputs = first + second
    stylized = jitter(inputs, seed=2)
    stabilizer = FlowStabilizer(weight=0.7)
    outputs = [stabilizer(i, s) for i, s in zip(inputs, stylized, strict=True)]
    assert stabilizer.cuts == [8]
    assert np.array_equal(outputs[0], stylized[0])
    assert np.array_equal(outputs[8], stylized[8])
    assert not np.array_equal(outputs[6], stylized[6])
    assert not np.array_equal(outputs[9], stylized[9])  # blending resumes after the cut
    stabilizer.reset()
    assert np.array_equal(stabilizer(inputs[9], stylized[9]), stylized[9])


def test_a_sudden_change_the_flow_still_follows_is_a_cut_but_noise_is_not(astronaut_pan):
    # Halving the light keeps the frame matched (DIS normalises its patches), but the input's
    # warping error jumps far above the shot's usual.
    darkened = [f if t < 8 else (f // 2) for t, f in enumerate(astronaut_pan)]
    assert flow.pair_flow(darkened[7], darkened[8]).visible_share > 0.5  # measured 0.91
    stabilizer = FlowStabilizer()
    for frame in darkened:
        stabilizer(frame, as_float_images(frame))
    assert stabilizer.cuts == [8]
    rng = np.random.default_rng(5)
    noisy = [np.clip(f + rng.normal(0, 3, f.shape), 0, 255).astype(np.uint8) for f in astronaut_pan]
    stabilizer = FlowStabilizer()
    for frame in noisy:
        stabilizer(frame, as_float_images(frame))
    assert stabilizer.cuts == []


def test_held_drawings_are_not_cuts_and_the_blend_engages(astronaut_pan):
    # Six drawings of a pan, each with its own line boil (noise), each held three frames, as a
    # cartoon drawn on threes. Counting the repeats in the shot's typical error made every new
    # drawing a cut (cuts [3, 6, 9, 12, 15]) and the blend did nothing (ratio 1.0); measured now:
    # no cut, the output's warping error 0.25 of the unstabilised one.
    rng = np.random.default_rng(3)
    drawings = [
        np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8) for f in astronaut_pan[:6]
    ]
    clip = [f for f in drawings for _ in range(3)]
    stylized = [f for f in jitter(drawings, seed=1) for _ in range(3)]
    stabilizer = FlowStabilizer(weight=0.7)
    stable = [stabilizer(i, s) for i, s in zip(clip, stylized, strict=True)]
    assert stabilizer.cuts == []
    before = flow.warping_error(stylized, clip).mean
    assert flow.warping_error(stable, clip).mean < 0.5 * before


@pytest.mark.parametrize("weight", [1.5, -0.1, 1.0])
def test_a_weight_outside_zero_to_one_is_refused(weight):
    with pytest.raises(ValueError, match="weight"):
        FlowStabilizer(weight=weight)


def test_weight_zero_passes_frames_through(astronaut_pan):
    flickering = jitter(astronaut_pan[:4], seed=4)
    stable = stabilize(astronaut_pan[:4], flickering, weight=0.0)
    assert all(np.array_equal(a, b) for a, b in zip(stable, flickering, strict=True))
