"""The demo sample: exact video layout, sound, reproducibility and a distinct painting palette."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from skimage import color

from vaest.data import sample
from vaest.errors import UserError
from vaest.io.imaging import load_image
from vaest.io.video import count_frames, ffmpeg_exe, iter_frames, probe

SMALL = dict(width=160, height=90, fps=25, seconds=3.0, paintings=4, painting_size=(240, 320))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return sample.make_sample(tmp_path_factory.mktemp("a") / "sample", seed=0, **SMALL)


@pytest.fixture(scope="module")
def frames(made):
    return np.stack(list(iter_frames(made["video"])))


@pytest.fixture(scope="module")
def paintings(made):
    return [load_image(p) for p in sorted(made["paintings"].glob("*.png"))]


def decoded_audio(path) -> np.ndarray:
    """The audio track as mono 16-bit samples at the sample's rate."""
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0"]
    cmd += ["-f", "s16le", "-ac", "1", "-ar", str(sample.SAMPLE_RATE), "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.int16)


def near_palette(image: np.ndarray, within: float = 15.0) -> float:
    """Share of pixels whose colour is within `within` (CIE76 delta E) of a palette colour."""
    lab = color.rgb2lab(image / 255.0).reshape(-1, 1, 3)
    palette = color.rgb2lab(sample.PALETTE[None] / 255.0)[0]
    return float((np.linalg.norm(lab - palette, axis=-1).min(axis=1) < within).mean())


def colour_histogram(images) -> np.ndarray:
    counts = sum(
        np.histogramdd(im.reshape(-1, 3), bins=8, range=[(0, 256)] * 3)[0] for im in images
    )
    return counts / counts.sum()


def test_video_has_exact_frames_size_rate_and_sound(made, frames):
    info = probe(made["video"])
    assert (info.width, info.height, info.fps) == (160, 90, 25)
    assert count_frames(made["video"]) == 75
    assert frames.shape == (75, 90, 160, 3)
    assert info.has_audio
    audio = decoded_audio(made["video"])
    assert abs(len(audio) / sample.SAMPLE_RATE - 3.0) < 1 / 25
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 1000  # audible, not silence


def test_video_moves_smoothly_through_photographs(frames):
    steps = np.abs(np.diff(frames.astype(np.float64), axis=0)).mean(axis=(1, 2, 3))
    assert steps.min() > 0.5  # the camera never stops
    assert steps.max() < 40  # crossfades, no hard cuts
    assert all(frame.std() > 20 for frame in frames)  # real content, not flat colour


def test_paintings_are_varied_pictures_of_the_requested_size(made, paintings):
    assert len(paintings) == 4
    assert all(p.shape == (240, 320, 3) for p in paintings)
    assert all(p.std() > 30 for p in paintings)
    for a in range(len(paintings)):
        for b in range(a + 1, len(paintings)):
            assert np.abs(paintings[a].astype(int) - paintings[b]).mean() > 20
    preview = load_image(made["preview"])
    assert preview.shape[0] > 90 and preview.shape[1] > 160


def test_paintings_share_one_palette_unlike_the_video(paintings, frames):
    # Most of every painting lies in the shared palette; little of the video does.
    assert all(near_palette(p) > 0.55 for p in paintings)
    assert np.mean([near_palette(f) for f in frames[::5]]) < 0.3
    # Every painting uses several palette colours, not one flat tint.
    palette = color.rgb2lab(sample.PALETTE[None] / 255.0)[0]
    for p in paintings:
        lab = color.rgb2lab(p / 255.0).reshape(-1, 1, 3)
        nearest = np.linalg.norm(lab - palette, axis=-1).argmin(axis=1)
        assert (np.bincount(nearest, minlength=len(palette)) / nearest.size > 0.03).sum() >= 4
    # Colour distributions: paintings resemble each other far more than they resemble the video.
    between = np.minimum(colour_histogram(paintings), colour_histogram(frames)).sum()
    within = np.minimum(colour_histogram(paintings[:2]), colour_histogram(paintings[2:])).sum()
    assert between < 0.3 < within


def test_same_seed_same_sample_other_seed_differs(made, frames, tmp_path):
    again = sample.make_sample(tmp_path / "again", seed=0, **SMALL)
    first = sorted(made["paintings"].glob("*.png"))
    second = sorted(again["paintings"].glob("*.png"))
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    assert np.array_equal(np.stack(list(iter_frames(again["video"]))), frames)

    other = sample.make_sample(tmp_path / "other", seed=1, **SMALL)
    second = sorted(other["paintings"].glob("*.png"))
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(first, second, strict=True))
    assert not np.array_equal(np.stack(list(iter_frames(other["video"]))), frames)


def test_existing_sample_is_kept_replaced_only_when_asked(tmp_path):
    out = tmp_path / "sample"
    paths = sample.make_sample(out, **SMALL)
    stamp = paths["video"].stat().st_mtime_ns
    sample.make_sample(out, **SMALL)  # same settings: nothing to do
    assert paths["video"].stat().st_mtime_ns == stamp

    other = dict(SMALL, paintings=2)
    with pytest.raises(UserError, match="--overwrite"):
        sample.make_sample(out, **other)
    assert len(list(paths["paintings"].glob("*.png"))) == 4  # untouched

    sample.make_sample(out, overwrite=True, **other)
    assert len(list(paths["paintings"].glob("*.png"))) == 2
    assert json.loads(paths["info"].read_text())["settings"]["paintings"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample"]  # no leftovers


def test_a_folder_that_is_not_a_sample_is_never_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a sample"):
        sample.make_sample(out, overwrite=True, **SMALL)
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(width=161), "even"),
        (dict(fps=25, seconds=2.01), "whole number of frames"),
        (dict(seconds=0.2), "needs at least 6 frames"),
        (dict(paintings=0), "painting"),
        (dict(painting_size=(20, 320)), "at least 32x32"),
    ],
)
def test_bad_settings_are_refused_before_writing(tmp_path, settings, message):
    with pytest.raises(UserError, match=message):
        sample.make_sample(tmp_path / "sample", **dict(SMALL, **settings))
    assert list(tmp_path.iterdir()) == []


def test_command_line_reports_a_mistake_in_one_line(tmp_path):
    out = tmp_path / "sample"
    cmd = [sys.executable, "-m", "vaest.data.sample", f"--out={out}", "--width=33"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: video size must be even and at least 16x16, not 33x180"
    ]
    assert not out.exists()


def test_command_line_makes_a_sample(tmp_path):
    out = tmp_path / "sample"
    cmd = [sys.executable, "-m", "vaest.data.sample", f"--out={out}", "--width=64", "--height=36"]
    cmd += ["--seconds=1", "--paintings=1", "--painting_size=60x80"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert str(out / "content.mp4") in result.stdout
    assert count_frames(out / "content.mp4") == 25
    assert [p.name for p in (out / "paintings").iterdir()] == ["01_chelsea.png"]
