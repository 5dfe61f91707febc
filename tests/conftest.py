"""Shared fixtures: generated videos from ffmpeg's lavfi sources and real bundled photographs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_video(
    path: Path,
    frames: int = 100,
    size: str = "320x180",
    fps: int = 25,
    source: str = "testsrc2",
    audio: bool = False,
) -> Path:
    """Encode `frames` frames of a lavfi test source as H.264, with a sine track if asked."""
    cmd = [
        FFMPEG,
        "-y",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"{source}=size={size}:rate={fps}",
    ]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    cmd += ["-frames:v", str(frames), "-pix_fmt", "yuv420p", "-c:v", "libx264"]
    if audio:
        cmd += ["-c:a", "aac", "-t", f"{frames / fps:.6f}"]
    cmd.append(str(path))
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real photographs that ship inside scikit-image's wheel (no download)."""
    from skimage import data

    return {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
    }


@pytest.fixture
def clip(tmp_path) -> Path:
    """100 frames of testsrc2 at 320x180, 25 fps, no audio."""
    return make_video(tmp_path / "clip.mp4")


TINY_MODEL = {
    "filters": (8, 8, 16, 16, 16, 16),
    "kernels": (3, 3, 3, 3, 3, 3),
    "latent_dim": 16,
}


def build_tiny_run(run_dir: Path, photos: dict, guide: str = "none") -> Path:
    """A whole small run: records, a trained VAE and refiner, and the export, at 36x64."""
    from PIL import Image

    from vaest.data.extract import extract
    from vaest.data.sources import Options, plan_domains
    from vaest.export.write import export
    from vaest.train.refiner import RefinerSettings, train_refiner
    from vaest.train.vae import VaeSettings, train_vae

    run_dir.mkdir(parents=True, exist_ok=True)
    clip = make_video(
        run_dir / "clip.mp4", frames=48, size="128x72", source="mandelbrot", audio=True
    )
    paintings = run_dir / "paintings"
    paintings.mkdir()
    for name in ("coffee", "chelsea"):
        Image.fromarray(photos[name]).save(paintings / f"{name}.png")
    options = Options(image_size=(36, 64), frame_stride=1, tiles_per_painting=20, val_fraction=0.2)
    plans = plan_domains([f"clip={clip}"], [f"art={paintings}"], options)
    extract(plans, options, run_dir)
    train_vae(
        run_dir,
        VaeSettings(steps=40, batch_size=8, learning_rate=1e-3, save_every=40, preview_every=40),
        TINY_MODEL,
    )
    train_refiner(
        run_dir,
        RefinerSettings(
            steps=30, batch_size=8, learning_rate=1e-3, save_every=30, preview_every=30
        ),
        {"guide": guide},
    )
    export(run_dir)
    return run_dir


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, photos) -> Path:
    """A trained and exported tiny run shared by the export, evaluation and mogrify tests.

    Tests must not modify it: copy what they change.
    """
    return build_tiny_run(tmp_path_factory.mktemp("tiny") / "run", photos)


SMALL_PAINTER = {"filters": (8, 16, 16), "residual_blocks": 1, "crop_range": (32, 64)}
PAINT_SIZE = (72, 128)


def painter_settings(steps: int):
    from vaest.train.painter import PainterSettings

    return PainterSettings(
        steps=steps, batch_size=2, learning_rate=1e-3, save_every=1, preview_every=100
    )


def linked_run(painter_run: Path, to: Path, parts=("data", "vae", "refiner")) -> Path:
    """A run folder sharing painter_run's data and models (read only) by symbolic links."""
    to.mkdir()
    for part in parts:
        (to / part).symlink_to(painter_run / part)
    return to


@pytest.fixture(scope="session")
def painter_run(tiny_run, tmp_path_factory) -> Path:
    """The tiny run's data and VAE, with RUN/data/paint at 72x128 (one painting domain, 24
    frames, of which the last 2 are held out)."""
    import shutil

    from vaest.data.paint import extract_paint_data
    from vaest.data.sources import Options, plan_domains

    run = tmp_path_factory.mktemp("painter") / "run"
    run.mkdir()
    for part in ("data", "vae", "refiner"):
        shutil.copytree(tiny_run / part, run / part)
    options = Options(image_size=(36, 64))
    plans = plan_domains(
        [f"clip={tiny_run / 'clip.mp4'}"], [f"art={tiny_run / 'paintings'}"], options
    )
    extract_paint_data(plans, run, PAINT_SIZE, max_frames=24)
    return run


@pytest.fixture(scope="session")
def trained_painter(painter_run, tmp_path_factory) -> Path:
    """A run whose painter trained 2 steps straight, checkpointed at steps 1 and 2.

    Tests must not modify it: copy what they change."""
    from vaest.train.painter import train_painter

    run = linked_run(painter_run, tmp_path_factory.mktemp("trained") / "run")
    train_painter(run, painter_settings(2), SMALL_PAINTER)
    return run


@pytest.fixture(scope="session")
def exported_painter(trained_painter) -> Path:
    """The trained painter's run, exported: its SavedModel has the paint signature."""
    from vaest.export.write import export

    export(trained_painter)
    return trained_painter


def stylize(exported, run_dir: Path, input_path: Path, output: Path, **settings):
    """Step 7 as mogrify_video.py runs it, with Settings' fields as keywords; its Result."""
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run
    from vaest.stylize.settings import Settings

    job = make_job(Settings(**settings), input_path, output, run_dir)
    return run(make_plan(job, exported), exported)
