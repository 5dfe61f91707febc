"""Step 7 on hostile input: a variable frame rate, a damaged export, non-finite latents."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_refusals import assert_one_line_error, make_vfr_clip, script

from vaest.errors import UserError
from vaest.export.read import Exported
from vaest.io.video_out import stream_info
from vaest.latent import Shift
from vaest.run_dir import LATENTS, SAVED_MODEL
from vaest.stylize.job import make_job
from vaest.stylize.plan import make_plan
from vaest.stylize.run import run as stylize_run
from vaest.stylize.settings import Settings
from vaest.stylize.stylizer import Stylizer


@pytest.fixture
def run_dir(tiny_run, tmp_path) -> Path:
    shutil.copytree(tiny_run / "export", tmp_path / "export")
    shutil.copytree(tiny_run / "data", tmp_path / "data")
    return tmp_path


def test_variable_rate_video_keeps_its_duration_and_sound(run_dir, tmp_path):
    clip = make_vfr_clip(tmp_path / "vfr.mp4")
    out = tmp_path / "out.mp4"
    job = make_job(Settings(), clip, out, run_dir)
    assert job.total_frames == 180  # what the progress bar counts
    exported = Exported.from_run(run_dir)
    result = stylize_run(make_plan(job, exported), exported)
    info = stream_info(out)
    assert result.frames == info["frames"] == 180 and info["fps"] == 30.0
    assert abs(info["frames"] / info["fps"] - 6.0) <= 1 / 30
    assert abs(info["audio_duration"] - 6.0) <= 1 / 30


def test_nan_centroid_in_latents_is_refused_before_any_output(run_dir, tmp_path):
    path = run_dir / "export" / LATENTS
    with np.load(path) as raw:
        latents = dict(raw)
    latents["centroid"][0, 0] = np.nan
    np.savez(path, **latents)
    with pytest.raises(UserError, match="not finite"):
        Exported.from_run(run_dir)


def test_non_finite_shift_is_refused_before_decoding(tiny_run):
    exported = Exported.from_run(tiny_run)
    size = exported.latent_dim
    bad = Shift(np.full(size, np.inf, np.float32), np.zeros(size, np.float32), 1.0, 1.0)
    frames = np.zeros((2, *exported.image_size, 3), np.uint8)
    for method in ("refine", "residual"):
        with pytest.raises(UserError, match="not finite"):
            Stylizer(exported, bad, method=method)(frames)


@pytest.mark.parametrize("damaged", [f"{SAVED_MODEL}/saved_model.pb", LATENTS])
def test_cut_export_file_is_one_line_in_mogrify_and_evaluate(run_dir, tmp_path, damaged):
    path = run_dir / "export" / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    still = tmp_path / "in.png"
    out = tmp_path / "out.png"
    from PIL import Image

    Image.fromarray(np.zeros((36, 64, 3), np.uint8)).save(still)
    run = script("mogrify_video.py", f"--run_dir={run_dir}", f"--input={still}", f"--output={out}")
    assert_one_line_error(run, "damaged")
    assert not out.exists()
    run = script("evaluate_latents.py", f"--run_dir={run_dir}")
    assert_one_line_error(run, "damaged")
    assert not (run_dir / "eval").exists()


def test_device_gpu_without_one_is_a_one_line_error_and_writes_nothing(run_dir, tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 60, 3), 120, np.uint8)).save(photo)
    out = tmp_path / "out.png"
    args = ["--run_dir", str(run_dir), "--input", str(photo), "--output", str(out)]
    assert_one_line_error(script("mogrify_video.py", *args, "--device", "gpu"), "--device gpu")
    assert not out.exists()
    assert_one_line_error(script("mogrify_video.py", *args, "--device", "tpu"), "--device")


def test_device_cpu_gives_the_same_frames_as_the_default_placement(tiny_run):
    frames = np.random.default_rng(0).integers(
        0, 256, (2, *Exported.from_run(tiny_run).image_size, 3)
    )
    frames = frames.astype(np.uint8)
    placed, free = Exported.from_run(tiny_run, "/CPU:0"), Exported.from_run(tiny_run)
    np.testing.assert_array_equal(placed.encode(frames)[0], free.encode(frames)[0])
