"""Mogrify beyond one style: mixes and timelines of targets, sharp output larger than the model,
the source's colours kept, side-by-side comparisons and the settings recorded in the MP4."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from conftest import make_video

from vaest.errors import UserError
from vaest.export.read import Exported
from vaest.io import imaging, video
from vaest.io.video_out import read_comment, stream_info
from vaest.latent import Shift
from vaest.measure import metrics
from vaest.stylize.clock import Clock
from vaest.stylize.job import make_job
from vaest.stylize.plan import make_plan
from vaest.stylize.run import run as stylize_run
from vaest.stylize.settings import BATCH_SIZE, Settings, parse_record
from vaest.stylize.stylizer import Stylizer
from vaest.stylize.targets import parse_target, target_schedule

ROOT = Path(__file__).resolve().parents[1]
FPS = 25


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> Exported:
    """The shared export with a second painting domain, "other", at the clip's centroid."""
    folder = tmp_path_factory.mktemp("styles-run")
    shutil.copytree(tiny_run / "export", folder / "export")
    latents = folder / "export" / "latents.npz"
    with np.load(latents) as raw:
        found = {key: raw[key] for key in raw.files}
    clip = list(found["names"]).index("clip")
    added = {"names": "other", "kinds": "painting"}
    for key, values in found.items():
        extra = np.array([added[key]]) if key in added else values[clip : clip + 1]
        found[key] = np.concatenate([values, extra])
    np.savez(latents, **found)
    return Exported.from_run(folder)


@pytest.fixture(scope="module")
def run_dir(exported) -> Path:
    return exported.folder.parent


@pytest.fixture(scope="module")
def source_clip(tmp_path_factory) -> Path:
    """20 frames of testsrc2 at 96x54, 25 frames/s, with a sine track."""
    path = tmp_path_factory.mktemp("styles-input") / "in.mp4"
    return make_video(path, frames=20, size="96x54", fps=FPS, audio=True)


@pytest.fixture(scope="module")
def frames(source_clip, exported) -> np.ndarray:
    return np.stack(
        [
            imaging.fit_image(f, exported.image_size, "stretch")
            for f in video.iter_frames(source_clip)
        ]
    )


def stylize(exported, run_dir, input_path, output, **settings):
    settings.setdefault("target", "art")
    job = make_job(Settings(**settings), input_path, output, run_dir)
    return stylize_run(make_plan(job, exported), exported)


def shifted_latents(exported, frames, spec, times, transition=0.0):
    schedule = target_schedule(exported, spec, transition)
    shift = Shift(np.zeros(exported.latent_dim, np.float32), schedule.at(0)[0], 1.0, 1.0)
    return Stylizer(exported, shift, schedule=schedule).latents(frames, times=times)


# --- mixes and timelines --------------------------------------------------------------------------


def test_a_half_and_half_mix_lands_halfway_between_the_two_targets(exported, frames):
    times = np.zeros(len(frames))
    art = shifted_latents(exported, frames, "art", times)
    other = shifted_latents(exported, frames, "other", times)
    assert np.abs(art - other).mean() > 0.1  # the two targets differ
    mixed = shifted_latents(exported, frames, "art:0.5,other:0.5", times)
    np.testing.assert_allclose(mixed, (art + other) / 2, atol=1e-5)
    # Weights are normalised: 3:1 is 0.75/0.25.
    weighted = shifted_latents(exported, frames, "art:3,other:1", times)
    np.testing.assert_allclose(weighted, 0.75 * art + 0.25 * other, atol=1e-5)


def test_a_timeline_switches_the_target_at_the_given_time(exported, frames):
    """Fed in batches with the video's clock, frames before 0.4 s go toward art, the rest toward
    other; without a transition the switch is a cut."""
    schedule = target_schedule(exported, "art@0,other@0.4", 0.0)
    art = target_schedule(exported, "art", 0.0)
    other = target_schedule(exported, "other", 0.0)
    zero = np.zeros(exported.latent_dim, np.float32)

    def run(chosen):
        shift = Shift(zero, chosen.at(0)[0], 1.0, 1.0)
        stylizer = Stylizer(exported, shift, method="split", schedule=chosen, clock=Clock(0.0, FPS))
        return np.concatenate([stylizer(frames[i : i + 6]) for i in range(0, len(frames), 6)])

    timeline, before, after = run(schedule), run(art), run(other)
    switch = round(0.4 * FPS)  # frame 10
    np.testing.assert_allclose(timeline[:switch], before[:switch], atol=1e-6)
    np.testing.assert_allclose(timeline[switch:], after[switch:], atol=1e-6)
    assert np.abs(before[switch:] - after[switch:]).mean() > 0.01


def test_a_video_timeline_counts_seconds_of_the_input(exported, run_dir, source_clip, tmp_path):
    """With --start 0.2, a cut at 0.4 s of the input falls on the 6th output frame."""

    def frames_of(target):
        out = tmp_path / f"{target.replace('@', '-').replace(',', '_')}.mp4"
        settings = dict(
            target=target, start=0.2, transition=0, temporal="none", crf=0, source="clip"
        )
        stylize(exported, run_dir, source_clip, out, **settings)
        return np.stack(list(video.iter_frames(out))).astype(int)

    timeline, art, other = frames_of("art@0,other@0.4"), frames_of("art"), frames_of("other")
    assert len(timeline) == len(art) == len(clip_frames_after(source_clip, 0.2))
    switch = 5  # (0.4 - 0.2) s at 25 frames/s
    assert np.abs(timeline[:switch] - art[:switch]).max() <= 1  # crf 0: lossless but for yuv
    assert np.abs(timeline[switch:] - other[switch:]).max() <= 1
    assert np.abs(art[switch:] - other[switch:]).mean() > 1


def clip_frames_after(path: Path, start: float) -> list:
    return list(video.iter_frames(path, start=start))


def test_a_transition_moves_the_target_monotonically_between_the_centroids(exported, frames):
    """Over the second before 0.6 s the target slides from art to other, along the straight
    line between them; before it, art; from 0.6 s on, other."""
    times = np.arange(len(frames)) / FPS  # 0 .. 0.76 s
    latents = shifted_latents(exported, frames, "art@0,other@0.6", times, transition=0.4)
    means = exported.encode(frames)[0]
    targets = latents - means  # the offset is c_target, the source being zero
    art, other = exported.domain("art").centroid, exported.domain("other").centroid
    line = other - art
    share = (targets - art) @ line / (line @ line)
    off_line = targets - (art + share[:, None] * line)
    assert np.abs(off_line).max() < 1e-4
    moving = (times > 0.2 + 1e-9) & (times < 0.6 - 1e-9)
    np.testing.assert_allclose(share[times <= 0.2], 0.0, atol=1e-6)
    np.testing.assert_allclose(share[times >= 0.6 - 1e-9], 1.0, atol=1e-6)
    assert moving.sum() == 9 and np.all(np.diff(share[moving]) > 0)
    assert 0 < share[moving].min() and share[moving].max() < 1
    np.testing.assert_allclose(share[times == 0.4], 0.5, atol=1e-6)  # the 50/50 mix halfway


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("art:0", "must be positive"),
        ("art:-1,other:2", "must be positive"),
        ("art:lots", "not a number"),
        ("art@2,other@1", "must increase"),
        ("art@0,other@0", "must increase"),
        ("art@-1", "negative"),
        ("art@0,other", "needs @SECONDS"),
        ("art,,other", "empty entry"),
        ("art:1,art:2", "appears twice"),
    ],
)
def test_bad_target_specs_are_refused(spec, message):
    with pytest.raises(UserError, match=message):
        parse_target(spec)
    with pytest.raises(UserError, match=message):
        Settings(target=spec).check()


def test_unknown_domains_and_negative_transitions_are_refused(exported):
    with pytest.raises(UserError, match="nope is not a painting domain; .* art, other"):
        target_schedule(exported, "art:0.5,nope:0.5", 1.0)
    with pytest.raises(UserError, match="clip is not a painting domain"):
        target_schedule(exported, "art@0,clip@1", 1.0)
    for bad in (-1.0, float("nan")):
        with pytest.raises(UserError, match="--transition must be"):
            Settings(transition=bad).check()


def test_script_refuses_a_bad_weight_in_one_line(run_dir, source_clip, tmp_path):
    out = tmp_path / "out.mp4"
    args = [
        f"--run_dir={run_dir}",
        f"--input={source_clip}",
        f"--output={out}",
        "--target=art:-0.5",
    ]
    run = subprocess.run(
        [sys.executable, str(ROOT / "mogrify_video.py"), *args], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("error: --target 'art:-0.5'")
    assert "Traceback" not in run.stderr and not out.exists()


# --- sharp output larger than the model, kept colours ---------------------------------------


@pytest.fixture(scope="module")
def hd_frame(tmp_path_factory) -> Path:
    """One 1280x720 testsrc2 frame (sharp bars, text and a checkerboard) as a PNG."""
    folder = tmp_path_factory.mktemp("hd")
    clip = make_video(folder / "hd.mp4", frames=1, size="1280x720")
    path = folder / "hd.png"
    imaging.save_image(next(video.iter_frames(clip)), path)
    return path


# Measured with the tiny model at 36x64: resize keeps 0.035 of the gradient energy (edge
# correlation 0.25), guided 0.68 (0.99); the model's change itself keeps 0.73 at its own size.
def test_guided_upsampling_keeps_the_detail_of_a_1280x720_frame(
    exported, run_dir, hd_frame, tmp_path
):
    source = imaging.load_image(hd_frame)
    found = {}
    for upsample in ("resize", "guided"):
        out = tmp_path / f"{upsample}.png"
        stylize(exported, run_dir, hd_frame, out, upsample=upsample, source="clip")
        picture = imaging.load_image(out)
        assert picture.shape == source.shape
        found[upsample] = (
            metrics.sharpness_ratio(picture, source)[0],
            metrics.edge_correlation(picture, source)[0],
        )
    (old_sharpness, old_edges), (sharpness, edges) = found["resize"], found["guided"]
    assert sharpness > 5 * old_sharpness and sharpness > 0.5
    assert edges > 0.95 and old_edges < 0.5


def chroma(images) -> np.ndarray:
    """Cb and Cr (BT.601, full range) of uint8 RGB images, in [0, 1] units."""
    rgb = imaging.as_float_images(images, np.float64)
    cb = -0.168736 * rgb[..., 0] - 0.331264 * rgb[..., 1] + 0.5 * rgb[..., 2]
    cr = 0.5 * rgb[..., 0] - 0.418688 * rgb[..., 1] - 0.081312 * rgb[..., 2]
    return np.stack([cb, cr], axis=-1)


# Measured on coffee and astronaut through the tiny model: the style moves Cb/Cr by 0.024 and
# 0.085 on average, --keep_colours leaves 0.0002 (8-bit rounding, and the few saturated pixels
# whose chroma is scaled down to fit a lighter or darker luma).
@pytest.mark.parametrize("name", ["coffee", "astronaut"])
def test_keep_colours_gives_the_output_the_inputs_chroma(exported, run_dir, photos, tmp_path, name):
    source = photos[name]
    path = tmp_path / "photo.png"
    imaging.save_image(source, path)
    plain, kept = tmp_path / "plain.png", tmp_path / "kept.png"
    stylize(exported, run_dir, path, plain, source="clip")
    stylize(exported, run_dir, path, kept, source="clip", keep_colours=True)
    before = np.abs(chroma(imaging.load_image(plain)) - chroma(source)).mean()
    after = np.abs(chroma(imaging.load_image(kept)) - chroma(source)).mean()
    assert before > 0.01  # the style moved the colours...
    assert after < 0.002  # ...and --keep_colours puts them back
    # The lightness is the style's, not the source's.
    luma = metrics.luminance(imaging.load_image(kept))
    assert np.abs(luma - metrics.luminance(imaging.load_image(plain))).mean() < 0.01
    assert np.abs(luma - metrics.luminance(source)).mean() > 0.02


# --- side by side, the recorded settings ----------------------------------------------------


@pytest.mark.parametrize(("size", "expected"), [("96x54", (192, 54)), ("128x40", (128, 80))])
def test_side_by_side_doubles_the_frame_and_keeps_the_sound(
    exported, run_dir, tmp_path, size, expected
):
    """16:9 side by side; a clip wider than 16:9 is stacked, the input first."""
    clip = make_video(tmp_path / "in.mp4", frames=8, size=size, fps=FPS, audio=True)
    out = tmp_path / "pair.mp4"
    stylize(exported, run_dir, clip, out, side_by_side=True, source="clip")
    info = stream_info(out)
    assert (info["width"], info["height"]) == expected and info["frames"] == 8
    assert info["has_audio"] and info["audio_duration"] == pytest.approx(8 / FPS, abs=0.05)
    first_in = next(video.iter_frames(clip)).astype(int)
    first_out = next(video.iter_frames(out)).astype(int)
    height, width = first_in.shape[:2]
    original, styled = first_out[:height, :width], first_out[-height:, -width:]
    assert np.abs(original - first_in).mean() < 6  # the input half is the input
    assert np.abs(styled - first_in).mean() > 2 * np.abs(original - first_in).mean()


def test_the_settings_round_trip_through_the_comment_tag(exported, run_dir, source_clip, tmp_path):
    out = tmp_path / "tagged.mp4"
    settings = dict(target="art:0.7,other:0.3", strength=0.8, method="split", max_frames=4)
    stylize(exported, run_dir, source_clip, out, **settings)
    record = parse_record(read_comment(out))
    # The batch size not given is recorded as the one used (8 frames per call on a CPU).
    assert record["settings"] == asdict(Settings(**settings, batch_size=BATCH_SIZE))
    assert record["shift"] == {"source_weight": 0.8, "target_weight": 0.8}
    assert record["export"]["vae_step"] == exported.info["vae_step"] > 0
    assert record["export"]["refiner_step"] == exported.info["refiner_step"]
    # Remade from the record alone, the output is the same video.
    again = tmp_path / "again.mp4"
    stylize(exported, run_dir, source_clip, again, **record["settings"])
    first, second = (np.stack(list(video.iter_frames(p))) for p in (out, again))
    assert np.array_equal(first, second)
