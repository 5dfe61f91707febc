"""Step 7: mogrify, on the shared tiny run (36x64, video domain "clip", painting domain "art")."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import make_video, stylize
from PIL import Image

from vaest.data.records import domain_images
from vaest.errors import MissingStep, UserError
from vaest.export.read import Exported
from vaest.io import imaging, video
from vaest.io.imaging import to_uint8
from vaest.io.video import VideoError, exact_rate
from vaest.io.video_out import stream_info
from vaest.latent import Shift
from vaest.measure import metrics
from vaest.stylize.job import make_job
from vaest.stylize.settings import Settings
from vaest.stylize.source import measure_centroid
from vaest.stylize.stabilize import FlowStabilizer
from vaest.stylize.stylizer import Stylizer

ROOT = Path(__file__).resolve().parents[1]
FPS = 25
FRAMES = 30


@pytest.fixture(scope="module")
def run_dir(tiny_run, tmp_path_factory) -> Path:
    """A copy of the shared export: RUN/out is written here, not into the shared run."""
    folder = tmp_path_factory.mktemp("mogrify-run")
    shutil.copytree(tiny_run / "export", folder / "export")
    return folder


@pytest.fixture(scope="module")
def exported(run_dir) -> Exported:
    return Exported.from_run(run_dir)


@pytest.fixture(scope="module")
def source_clip(tmp_path_factory) -> Path:
    """30 frames of testsrc2 at 96x54 (the model's aspect), 25 fps, with a sine track."""
    folder = tmp_path_factory.mktemp("mogrify-input")
    return make_video(folder / "in.mp4", frames=FRAMES, size="96x54", fps=FPS, audio=True)


def fitted_frames(path: Path, size) -> np.ndarray:
    return np.stack([imaging.fit_image(f, size, "stretch") for f in video.iter_frames(path)])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- videos --------------------------------------------------------------------------------------


def test_video_keeps_frames_rate_duration_size_and_sound(exported, run_dir, source_clip, tmp_path):
    out = tmp_path / "out.mp4"
    result = stylize(exported, run_dir, source_clip, out)
    assert result.path == out and result.frames == FRAMES
    before, after = stream_info(source_clip), stream_info(out)
    assert after["frames"] == before["frames"] == FRAMES
    assert after["fps"] == before["fps"] == FPS
    assert after["duration"] == pytest.approx(before["duration"], abs=0.05)
    assert (after["width"], after["height"]) == (96, 54)
    assert after["has_audio"]
    assert after["audio_duration"] == pytest.approx(FRAMES / FPS, abs=0.05)
    assert leftovers(tmp_path) == []


def test_default_outputs_go_to_run_out(run_dir, source_clip, photos, tmp_path):
    job = make_job(Settings(), source_clip, None, run_dir)
    assert (job.output, job.output_kind) == (run_dir / "out" / "in-stylized.mp4", "video")
    folder = tmp_path / "shots"
    folder.mkdir()
    Image.fromarray(photos["rocket"]).save(folder / "rocket.png")
    job = make_job(Settings(), folder, None, run_dir)
    assert (job.output, job.output_kind) == (run_dir / "out" / "shots-stylized", "folder")
    with pytest.raises(UserError, match="a video input gives a video or gif output"):
        make_job(Settings(), source_clip, tmp_path / "frame.png", run_dir)


@pytest.mark.parametrize(
    ("output_size", "expected"), [("model", (64, 36)), ("128x96", (128, 96)), ("48x28", (48, 28))]
)
def test_output_size(exported, run_dir, source_clip, tmp_path, output_size, expected):
    out = tmp_path / "sized.mp4"
    stylize(exported, run_dir, source_clip, out, output_size=output_size, max_frames=4)
    info = stream_info(out)
    assert (info["width"], info["height"]) == expected
    assert info["frames"] == 4


def test_other_aspect_is_letterboxed_not_distorted(exported, run_dir, source_clip, tmp_path):
    # 96x54 into 128x96: the picture keeps 16:9 at 128x72, with 12 black rows above and below.
    out = tmp_path / "box.mp4"
    stylize(exported, run_dir, source_clip, out, output_size="128x96", max_frames=2)
    frame = next(video.iter_frames(out)).astype(int)
    assert frame[:10].max() < 24 and frame[-10:].max() < 24
    assert frame[14:82].mean() > 40


def test_start_and_duration_cut_frames_and_sound(exported, run_dir, source_clip, tmp_path):
    out = tmp_path / "range.mp4"
    result = stylize(exported, run_dir, source_clip, out, start=0.4, duration=0.4)
    info = stream_info(out)
    assert result.frames == info["frames"] == 10
    assert info["duration"] == pytest.approx(0.4, abs=0.05)
    assert info["audio_duration"] == pytest.approx(0.4, abs=0.05)
    # The range starts at frame 10: compare with the source's frame 10 through the same path.
    first = next(video.iter_frames(source_clip, start=0.4))
    assert np.array_equal(first, list(video.iter_frames(source_clip))[10])


def test_frame_rates_stay_exact():
    assert exact_rate(25.0) == 25
    assert exact_rate(29.97) == Fraction(30000, 1001)
    assert exact_rate(23.98) == Fraction(24000, 1001)
    assert exact_rate(24.0) == 24
    assert exact_rate(12.5) == Fraction(25, 2)


def test_max_frames_and_no_audio(exported, run_dir, source_clip, tmp_path):
    out = tmp_path / "short.mp4"
    stylize(exported, run_dir, source_clip, out, max_frames=7, audio=False)
    info = stream_info(out)
    assert info["frames"] == 7 and not info["has_audio"]


def test_silent_source_gives_silent_output(exported, run_dir, tmp_path):
    silent = make_video(tmp_path / "silent.mp4", frames=6, size="96x54", fps=FPS)
    out = tmp_path / "out.mp4"
    stylize(exported, run_dir, silent, out)
    info = stream_info(out)
    assert info["frames"] == 6 and not info["has_audio"]


def test_gif_output(exported, run_dir, source_clip, tmp_path):
    out = tmp_path / "out.gif"
    result = stylize(exported, run_dir, source_clip, out, max_frames=12)
    frames = list(video.iter_frames(out))
    assert result.frames == len(frames) == 12
    assert frames[0].shape == (54, 96, 3)
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 12


# --- the latent shift -----------------------------------------------------------------------------


def test_weights_from_flags():
    assert Settings().weights() == (1.0, 1.0)
    assert Settings(strength=0.5).weights() == (0.5, 0.5)
    assert Settings(source_weight=0.25, target_weight=0.5).weights() == (0.25, 0.5)
    assert Settings(target_weight=0.5).weights() == (0.0, 0.5)
    with pytest.raises(UserError, match="not both"):
        Settings(strength=1.0, target_weight=0.5).weights()


def test_original_weights_reproduce_the_formula(exported, run_dir, photos, tmp_path):
    """An image at the model size, through the whole image path, equals
    refine(decode(mu - 0.25 c_clip + 0.5 c_art)) computed step by step through the export."""
    height, width = exported.image_size
    picture = imaging.fit_image(photos["astronaut"], (height, width), "crop")
    source = tmp_path / "frame.png"
    Image.fromarray(picture).save(source)
    out = tmp_path / "styled.png"
    stylize(
        exported, run_dir, source, out,
        source="clip", source_weight=0.25, target_weight=0.5, method="refine",
    )  # fmt: skip
    got = imaging.load_image(out).astype(int)

    mean, _ = exported.encode(picture[None])
    shifted = mean - 0.25 * exported.domain("clip").centroid + 0.5 * exported.domain("art").centroid
    expected = to_uint8(exported.refine(exported.decode(shifted), picture[None]))[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected.astype(int)).max() <= 1
    # And the weights matter: the plain reconstruction is a different picture.
    plain = to_uint8(exported.refine(exported.decode(mean), picture[None]))[0]
    assert np.abs(got - plain.astype(int)).mean() > 1.0


def test_residual_method_adds_back_what_the_model_could_not_rebuild(
    exported, run_dir, photos, tmp_path
):
    """The default method: refine(decode(z')) + (x - refine(decode(mu))), that residual's mean
    colour removed; at strength 0 it gives the frame's own structure back, which the refiner
    alone cannot."""
    height, width = exported.image_size
    picture = imaging.fit_image(photos["astronaut"], (height, width), "crop")
    source = tmp_path / "frame.png"
    Image.fromarray(picture).save(source)
    x = picture[None].astype(np.float32) / 255.0
    mean, _ = exported.encode(x)
    shifted = mean - exported.domain("clip").centroid + exported.domain("art").centroid
    styled = exported.refine(exported.decode(shifted), x)
    residual = x - exported.refine(exported.decode(mean), x)
    expected = np.clip(styled + residual - residual.mean(axis=(1, 2), keepdims=True), 0, 1)

    out = tmp_path / "styled.png"
    stylize(exported, run_dir, source, out, source="clip")
    got = imaging.load_image(out).astype(int)
    assert np.abs(got - to_uint8(expected)[0].astype(int)).max() <= 1

    kept = {}
    for method in ("residual", "refine"):
        still = tmp_path / f"{method}-0.png"
        stylize(exported, run_dir, source, still, source="clip", strength=0.0, method=method)
        kept[method] = metrics.edge_correlation(imaging.load_image(still), picture)[0]
    assert kept["residual"] > 0.95 and kept["residual"] > kept["refine"] + 0.2


def test_stylizer_latents_follow_the_formula(exported, source_clip):
    frames = fitted_frames(source_clip, exported.image_size)[:5]
    c_s, c_t = exported.domain("clip").centroid, exported.domain("art").centroid
    stylizer = Stylizer(exported, Shift(c_s, c_t, 0.25, 0.5))
    mean, _ = exported.encode(frames)
    np.testing.assert_allclose(stylizer.latents(frames), mean - 0.25 * c_s + 0.5 * c_t, atol=1e-5)


def test_auto_source_is_the_clips_own_centroid(exported, source_clip):
    frames = fitted_frames(source_clip, exported.image_size)
    centroid, means = measure_centroid(exported, iter(frames), batch_size=7)
    mean, _ = exported.encode(frames)
    np.testing.assert_allclose(means, mean, atol=1e-5)
    np.testing.assert_allclose(centroid, mean.mean(axis=0), atol=1e-5)


def test_auto_pass_means_are_reused_in_order(exported, run_dir, source_clip, tmp_path, monkeypatch):
    """With --source auto over every frame, each batch gets its own frames' mu from the first
    pass, and stylizing from them equals the one-graph stylize path."""
    seen = []
    original = Stylizer.__call__

    def record(self, fitted, means=None):
        seen.append((fitted, means))
        return original(self, fitted, means)

    monkeypatch.setattr(Stylizer, "__call__", record)
    stylize(exported, run_dir, source_clip, tmp_path / "out.mp4", batch_size=8)
    assert [len(f) for f, _ in seen] == [8, 8, 8, 6]
    for fitted, means in seen:
        np.testing.assert_allclose(means, exported.encode(fitted)[0], atol=1e-5)
    fitted, means = seen[1]
    shift = Shift(means.mean(axis=0), exported.domain("art").centroid, 1.0, 1.0)
    one_graph = original(Stylizer(exported, shift), fitted)
    np.testing.assert_allclose(
        original(Stylizer(exported, shift), fitted, means), one_graph, atol=1e-4
    )


@pytest.mark.parametrize("method", ["refine", "residual"])
def test_stylized_frames_move_toward_the_target(
    exported, run_dir, tiny_run, source_clip, tmp_path, method
):
    """The refiner's output moves toward the paintings in latent space; the residual method's
    colours move toward the paintings' (its structure is the frame's, so its latent does not)."""
    out = tmp_path / f"moved-{method}.mp4"
    stylize(exported, run_dir, source_clip, out, strength=1.0, method=method)
    before_frames = fitted_frames(source_clip, exported.image_size)
    after_frames = fitted_frames(out, exported.image_size)
    target = exported.domain("art").centroid
    before, _ = exported.encode(before_frames)
    after, _ = exported.encode(after_frames)
    distance_before = np.linalg.norm(before - target, axis=1).mean()
    distance_after = np.linalg.norm(after - target, axis=1).mean()
    paintings = metrics.colour_statistics(domain_images(tiny_run / "data", "train", "art"))
    colour_before = metrics.colour_distance(metrics.colour_statistics(before_frames), paintings)
    colour_after = metrics.colour_distance(metrics.colour_statistics(after_frames), paintings)
    if method == "refine":
        assert distance_after < 0.8 * distance_before
        assert colour_after < 0.8 * colour_before
    else:  # it keeps the test pattern's saturated colour variation, so it moves less
        assert colour_after < 0.9 * colour_before


def test_smoothing_is_an_ema_across_batches_and_calms_the_latents(exported, source_clip):
    frames = fitted_frames(source_clip, exported.image_size)
    shift = Shift(exported.domain("clip").centroid, exported.domain("art").centroid, 1.0, 1.0)
    raw = Stylizer(exported, shift).latents(frames)
    smooth = Stylizer(exported, shift, smoothing=0.8)
    smoothed = np.concatenate([smooth.latents(frames[i : i + 4]) for i in range(0, FRAMES, 4)])
    np.testing.assert_allclose(smoothed[0], raw[0], atol=1e-6)
    np.testing.assert_allclose(smoothed[7], 0.8 * smoothed[6] + 0.2 * raw[7], atol=1e-5)
    change_raw = np.linalg.norm(np.diff(raw, axis=0), axis=1).sum()
    change_smooth = np.linalg.norm(np.diff(smoothed, axis=0), axis=1).sum()
    assert change_smooth < 0.5 * change_raw


def test_smoothing_calms_a_flickering_stream(exported, source_clip):
    """A stream that alternates between two frames flickers as much as it can. Smoothing z'
    (an average over time, so the alternation shrinks to about (1 - s) / (1 + s) of its size)
    must calm the stylized frames, which the tiny decoder passes on nearly linearly. Measured on
    the frames the Stylizer gives, before H.264, whose own noise is larger than the tiny model's
    frame-to-frame change on a natural clip."""

    def flicker(frames):
        return np.abs(np.diff(frames, axis=0)).mean()

    fitted = fitted_frames(source_clip, exported.image_size)
    alternating = np.stack([fitted[0] if i % 2 == 0 else fitted[FRAMES // 2] for i in range(16)])
    shift = Shift(exported.domain("clip").centroid, exported.domain("art").centroid, 1.0, 1.0)
    # A smoothing too small to matter takes the same encode-decode-refine path as 0.8.
    plain = Stylizer(exported, shift, method="refine", smoothing=1e-9)(alternating)
    smooth = Stylizer(exported, shift, method="refine", smoothing=0.8)(alternating)
    assert flicker(plain) > 0
    assert flicker(smooth) < 0.5 * flicker(plain)  # measured: 0.11 on AVX2 and AVX-512


def test_the_video_job_smooths_z_across_batches_in_stream_order(
    exported, run_dir, source_clip, tmp_path, monkeypatch
):
    """--smoothing reaches the video: every z' the job decodes is the running average of the
    unsmoothed z' of all frames so far, across batch boundaries."""
    raw, smoothed = [], []
    original = Stylizer.latents

    def recording(self, fitted, means=None, times=None):
        means = self.exported.encode(fitted)[0] if means is None else means
        raw.append(self.shift_at(times).apply(means).astype(np.float32))
        out = original(self, fitted, means, times)
        smoothed.append(out.copy())
        return out

    monkeypatch.setattr(Stylizer, "latents", recording)
    out = tmp_path / "smooth.mp4"
    stylize(
        exported,
        run_dir,
        source_clip,
        out,
        source="clip",
        method="refine",
        smoothing=0.8,
        batch_size=4,
    )
    assert len(raw) == -(-FRAMES // 4)  # one call a batch
    raw, smoothed = np.concatenate(raw), np.concatenate(smoothed)
    assert len(raw) == len(smoothed) == stream_info(out)["frames"] == FRAMES
    expected = raw.copy()
    for t in range(1, len(raw)):
        expected[t] = 0.8 * expected[t - 1] + 0.2 * raw[t]
    np.testing.assert_allclose(smoothed, expected, atol=1e-5)


def test_pixel_smoothing_blends_with_the_last_output(exported, source_clip):
    frames = fitted_frames(source_clip, exported.image_size)[:6]
    shift = Shift(exported.domain("clip").centroid, exported.domain("art").centroid, 1.0, 1.0)
    raw = Stylizer(exported, shift)(frames)
    blender = Stylizer(exported, shift, pixel_smoothing=True)
    blended = np.concatenate([blender(frames[:4]), blender(frames[4:])])
    np.testing.assert_allclose(blended[0], raw[0], atol=1e-5)
    np.testing.assert_allclose(blended[4], 0.2 * blended[3] + 0.8 * raw[4], atol=1e-5)


# --- temporal stability ---------------------------------------------------------------------------


def test_flow_stabilizer_blends_along_the_motion_and_starts_from_the_raw_frame(
    exported, source_clip
):
    frames = fitted_frames(source_clip, exported.image_size)[:6]
    shift = Shift(exported.domain("clip").centroid, exported.domain("art").centroid, 1.0, 1.0)
    raw = Stylizer(exported, shift)(frames)
    steady = Stylizer(exported, shift, stabilizer=FlowStabilizer(0.7))
    stabilized = np.concatenate([steady(frames[:4]), steady(frames[4:])])
    np.testing.assert_allclose(stabilized[0], raw[0], atol=1e-6)
    assert np.abs(stabilized[1:] - raw[1:]).max() > 1e-3  # later frames are blended


def test_temporal_none_writes_the_unstabilised_frames_exactly(
    exported, run_dir, source_clip, tmp_path
):
    """A zero blend weight leaves every frame as it was stylized: the same video as none."""
    none, zero = tmp_path / "none.mp4", tmp_path / "zero.mp4"
    stylize(exported, run_dir, source_clip, none, method="refine", temporal="none")
    stylize(exported, run_dir, source_clip, zero, method="refine", flow_blend=0.0)
    for a, b in zip(video.iter_frames(none), video.iter_frames(zero), strict=True):
        np.testing.assert_array_equal(a, b)
    steady = tmp_path / "steady.mp4"
    stylize(exported, run_dir, source_clip, steady, method="refine")
    differs = [
        not np.array_equal(a, b)
        for a, b in zip(video.iter_frames(none), video.iter_frames(steady), strict=True)
    ]
    assert sum(differs) > FRAMES // 2  # (frame 0 is blended with nothing: see the Stylizer test)


def test_flow_stabilisation_lowers_the_measured_temporal_error(
    exported, run_dir, source_clip, tmp_path
):
    def measured(**settings):
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.mp4"
        return stylize(exported, run_dir, source_clip, out, measure_temporal=True, **settings)

    plain = measured(method="refine", temporal="none").temporal
    steady = measured(method="refine").temporal
    assert plain["input_warping_error"] == pytest.approx(steady["input_warping_error"])
    assert steady["warping_error"] < 0.7 * plain["warping_error"]
    assert steady["ratio"] < plain["ratio"]
    assert measured(method="refine", temporal="latent").temporal["ratio"] < plain["ratio"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"flow_blend": 1.5}, "--flow_blend must be in [0, 1)"),
        ({"flow_blend": float("nan")}, "--flow_blend must be in [0, 1)"),
        ({"temporal": "bogus"}, "--temporal must be flow, latent"),
        ({"strength": float("nan")}, "--strength must be a finite number"),
        ({"target_weight": float("inf")}, "--target_weight must be a finite number"),
    ],
)
def test_bad_temporal_and_non_finite_settings_are_refused(settings, message):
    with pytest.raises(UserError, match=re.escape(message)):
        Settings(**settings).check()


# --- images, folders, inset ----------------------------------------------------------------------


def test_image_in_image_out_at_its_own_size(exported, run_dir, photos, tmp_path):
    source = tmp_path / "coffee.jpg"
    Image.fromarray(photos["coffee"]).save(source, quality=95)
    result = stylize(exported, run_dir, source, None)
    assert result.path == run_dir / "out" / "coffee-stylized.png"
    assert imaging.load_image(result.path).shape == photos["coffee"].shape
    result.path.unlink()


def test_inset_shows_the_source_in_a_corner(exported, run_dir, photos, tmp_path):
    picture = imaging.fit_image(photos["chelsea"], (120, 200), "crop")
    source = tmp_path / "cat.png"
    Image.fromarray(picture).save(source)
    out = tmp_path / "inset.png"
    stylize(exported, run_dir, source, out, inset=True)
    got = imaging.load_image(out)
    small = imaging.resize(picture, 30, 50)  # a quarter of each side
    margin = 3  # min(120, 200) // 40
    corner = got[120 - margin - 30 : 120 - margin, 200 - margin - 50 : 200 - margin]
    assert np.array_equal(corner, small)
    assert not np.array_equal(got[:30, :50], imaging.resize(picture, 120, 200)[:30, :50])


def test_folder_in_folder_out_with_the_same_names(exported, run_dir, photos, tmp_path):
    source = tmp_path / "photos"
    (source / "sub").mkdir(parents=True)
    Image.fromarray(photos["rocket"]).save(source / "rocket.png")
    Image.fromarray(photos["chelsea"]).save(source / "sub" / "cat.jpg", quality=95)
    out = tmp_path / "styled"
    result = stylize(exported, run_dir, source, out, batch_size=1)
    assert result.frames == 2
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == ["rocket.png", "sub/cat.jpg"]
    assert imaging.load_image(out / "rocket.png").shape == photos["rocket"].shape
    assert imaging.load_image(out / "sub" / "cat.jpg").shape == photos["chelsea"].shape
    assert leftovers(tmp_path) == []


# --- bad input and interruptions ------------------------------------------------------------------


def test_bad_inputs_leave_nothing(exported, run_dir, source_clip, tmp_path):
    out = tmp_path / "out.mp4"
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n")
    with pytest.raises(UserError, match="not found"):
        make_job(Settings(), tmp_path / "missing.mp4", out, run_dir)
    with pytest.raises(VideoError, match="not a"):
        make_job(Settings(), fake, out, run_dir)
    same = source_clip.parent / ".." / source_clip.parent.name / source_clip.name
    with pytest.raises(UserError, match="is the input"):
        make_job(Settings(), source_clip, same, run_dir)
    with pytest.raises(UserError, match="painting domains are: art"):
        stylize(exported, run_dir, source_clip, out, target="nope")
    with pytest.raises(UserError, match="--source"):
        stylize(exported, run_dir, source_clip, out, source="nope")
    with pytest.raises(UserError, match="smoothing"):
        stylize(exported, run_dir, source_clip, out, smoothing=1.0)
    with pytest.raises(UserError, match="--method must be auto or one of residual, refine, split"):
        stylize(exported, run_dir, source_clip, out, method="blur")
    with pytest.raises(MissingStep, match="export_graphs.py"):
        Exported.from_run(tmp_path / "empty-run")
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_interrupted_run_leaves_no_video(exported, run_dir, source_clip, tmp_path, monkeypatch):
    calls = []
    original = Stylizer.__call__

    def interrupt_on_third_batch(self, fitted, means=None):
        calls.append(len(fitted))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, fitted, means)

    monkeypatch.setattr(Stylizer, "__call__", interrupt_on_third_batch)
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        stylize(exported, run_dir, source_clip, out, source="clip", batch_size=4)
    assert len(calls) == 3
    assert not out.exists()
    assert leftovers(tmp_path) == []


# --- the script -----------------------------------------------------------------------------------


def script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "mogrify_video.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_script_with_the_original_weights(run_dir, source_clip, tmp_path):
    out = tmp_path / "cli.mp4"
    run = script(
        f"--run_dir={run_dir}", f"--input={source_clip}", f"--output={out}",
        "--source_weight=0.25", "--target_weight=0.5", "--max_frames=8",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "z' = mu - 0.25 * c_source (auto) + 0.5 * c_target (art)" in run.stderr
    assert "--source auto: centroid of mu over 8 frames" in run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert str(out) in last and "frames/s" in last
    assert stream_info(out)["frames"] == 8


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing export", "no complete export"),
        ("unknown target", "the painting domains are: art"),
        ("not a video", "not a"),
        ("output is input", "is the input"),
        ("bad temporal", "--temporal must be"),
        ("old flow blend", "--temporal_weight: renamed --flow_blend"),
    ],
)
def test_script_errors_are_one_line(run_dir, source_clip, tmp_path, case, message):
    out = tmp_path / "out.mp4"
    args = [f"--run_dir={run_dir}", f"--input={source_clip}", f"--output={out}"]
    if case == "missing export":
        args[0] = f"--run_dir={tmp_path / 'empty'}"
    elif case == "unknown target":
        args.append("--target=nope")
    elif case == "not a video":
        fake = tmp_path / "notes.mp4"
        fake.write_text("just text\n")
        args[1] = f"--input={fake}"
    elif case == "bad temporal":
        args.append("--temporal=bogus")
    elif case == "old flow blend":  # train_refiner.py's --temporal_weight is the painter's
        args.append("--temporal_weight=0.5")
    else:
        args[2] = f"--output={source_clip}"
    run = script(*args)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()
    assert source_clip.stat().st_size > 0
