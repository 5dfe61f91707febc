"""The third hostile try-out, its training and extraction side: a painter that diverges saves
nothing, painter training takes the run lock, sizes that cannot fit are refused before the work,
flags that would be ignored are refused, and extraction validates before it deletes."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_PAINTER as SMALL
from conftest import linked_run
from conftest import painter_settings as settings

from vaest.errors import UserError
from vaest.io.lock import FolderInUse, folder_lock

ROOT = Path(__file__).resolve().parents[1]


def script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / name), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


def test_painter_training_takes_the_run_lock(painter_run, tmp_path):
    from vaest.train.painter import train_painter

    run = linked_run(painter_run, tmp_path / "run", parts=("data", "vae"))
    with folder_lock(run / "painter", "training"):
        with pytest.raises(FolderInUse, match=f"is in use: process {os.getpid()} "):
            train_painter(run, settings(1), SMALL)
    assert not (run / "painter" / "checkpoints").exists()


def nan_checkpoint(folder: Path, config) -> None:
    """A painter checkpoint whose weights are NaN, as training saved one before."""
    import tensorflow as tf

    from vaest.models.painter import build_painter
    from vaest.run_dir import checkpoints
    from vaest.train.checkpoints import save_config

    painter = build_painter(config)
    painter.weights[0].assign(np.full(painter.weights[0].shape, np.nan, np.float32))
    checkpoint = tf.train.Checkpoint(painter=painter)
    tf.train.CheckpointManager(checkpoint, str(checkpoints(folder)), 3).save(checkpoint_number=1)
    save_config(config, folder)


def test_a_diverged_painter_is_never_saved_nor_resumed(painter_run, tmp_path, caplog):
    """A huge finite weight makes NaN weights after a finite loss: nothing is saved. A NaN
    checkpoint on disk is no last good one, and --overwrite starts afresh over it."""
    from vaest.errors import TrainingDiverged
    from vaest.models.config import PainterConfig
    from vaest.models.painter import build_painter
    from vaest.run_dir import checkpoints
    from vaest.train.checkpoints import latest_step
    from vaest.train.loop import Schedule, TrainingRun
    from vaest.train.painter import train_painter

    run = linked_run(painter_run, tmp_path / "run", parts=("data", "vae"))
    folder = run / "painter"
    huge = {**SMALL, "texture_weight": 1e36}
    diverged = r"^painter: the (loss|weight \S+) became NaN or infinite at step 1; stopped"
    with pytest.raises(TrainingDiverged, match=diverged):
        train_painter(run, settings(1), huge)
    assert not list(checkpoints(folder).glob("ckpt-*"))
    assert not list((folder / "logs").rglob("*validation*"))

    # A NaN checkpoint saved before is no last good one: refused, and --overwrite starts afresh.
    config = PainterConfig(domains=("art",), **SMALL)
    nan_checkpoint(folder, config)
    assert latest_step(folder) is None
    assert "ckpt-1 is damaged" in caplog.text and "NaN or infinite" in caplog.text
    painter = build_painter(config)
    for overwrite in (False, True):
        schedule = Schedule(steps=1, batch_size=1, overwrite=overwrite)
        if not overwrite:
            with pytest.raises(UserError, match="none is complete: run again with --overwrite"):
                TrainingRun("painter", folder, None, {"painter": painter}, schedule, dict, list)
        else:
            TrainingRun("painter", folder, None, {"painter": painter}, schedule, dict, list)
    assert not list(checkpoints(folder).glob("ckpt-*"))


@pytest.fixture(scope="module")
def painter_export(exported_painter, tmp_path_factory) -> Path:
    """A copy of the painter's export whose painter_config.json is the default painter's, which
    the memory bounds read (its paint is the test's)."""
    from vaest.models.config import PainterConfig

    run = tmp_path_factory.mktemp("painted") / "run"
    shutil.copytree(exported_painter / "export", run / "export")
    config = PainterConfig(domains=("art",)).to_dict()
    (run / "export" / "painter_config.json").write_text(json.dumps(config))
    return run


def test_a_nan_painter_output_is_refused_and_nothing_is_written(painter_export, tmp_path):
    from conftest import make_video

    from vaest.export.read import load_export
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run
    from vaest.stylize.settings import Settings

    exported = load_export(painter_export)
    exported.paint = lambda frames, guides, weights: np.full(frames.shape, np.nan, np.float32)
    clip = make_video(tmp_path / "in.mp4", frames=3, size="64x36")
    out = tmp_path / "out"
    out.mkdir()
    job = make_job(Settings(method="paint"), clip, out / "o.mp4", painter_export)
    with pytest.raises(UserError, match="the painted frame is not finite"):
        run(make_plan(job, exported), exported)
    assert list(out.iterdir()) == []


def test_flags_that_would_be_ignored_are_refused_naming_them(tmp_path):
    """Painter flags without --painter, refiner flags under --painter, --target beside
    --target_video: each is one line naming the flag, exit 2, before any work."""
    run_dir = f"--run_dir={tmp_path / 'run'}"
    cases = {
        "--texture_weight": ["train_refiner.py", run_dir, "--texture_weight=1e36", "--steps=1"],
        "--crop_range": ["train_refiner.py", run_dir, "--crop_range=64,96"],
        "--body_filters, --strategy": [
            "train_refiner.py", run_dir, "--painter", "--strategy=mirrored", "--body_filters=8,8",
        ],
        "--target": [
            "mogrify_video.py", run_dir, "--input=in.mp4", "--target=art",
            "--target_video=style.mp4",
        ],
    }  # fmt: skip
    started = {
        named: subprocess.Popen(
            [sys.executable, str(ROOT / name), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )  # fmt: skip
        for named, (name, *args) in cases.items()
    }
    for named, process in started.items():
        _, stderr = process.communicate(timeout=120)
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert process.returncode == 2 and len(errors) == 1, stderr
        assert errors[0].startswith(f"error: {named}: "), stderr
    assert not (tmp_path / "run").exists()


def one_error(process: subprocess.CompletedProcess) -> str:
    """The one `error: ` line of a script that exited 2 without a traceback."""
    errors = [line for line in process.stderr.splitlines() if line.startswith("error: ")]
    assert process.returncode == 2 and len(errors) == 1, process.stderr
    assert "Traceback" not in process.stderr, process.stderr
    return errors[0]


@pytest.fixture
def extracted(tmp_path) -> Path:
    """A run whose RUN/data holds an extraction with paint/ and preview/, and a 64x36 clip."""
    from conftest import make_video

    data = tmp_path / "run" / "data"
    for part in ("paint", "preview"):
        (data / part).mkdir(parents=True)
        (data / part / "kept.txt").write_text(part)
    (data / "manifest.json").write_text("{}")
    make_video(tmp_path / "clip.mp4", frames=3, size="64x36")
    return tmp_path / "run"


def files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_extraction_checks_the_paint_size_before_deleting_anything(extracted):
    before = files(extracted)
    args = ["--overwrite", f"--video=clip={extracted.parent / 'clip.mp4'}"]
    error = one_error(script("extract_tiles.py", f"--run_dir={extracted}", *args,
                             "--image_size=36x64", "--paint_data_size=360x64O"))  # fmt: skip
    assert error.startswith("error: --paint_data_size 360x64O: must be HEIGHTxWIDTH"), error
    assert files(extracted) == before


def test_a_paint_size_of_the_wrong_shape_is_refused_naming_the_hxw_order(extracted):
    """--paint_data_size is HEIGHTxWIDTH where mogrify's --output_size is WIDTHxHEIGHT: 640x360 on a
    landscape clip would paint portrait slices of it. Refused before anything is written."""
    clip = extracted.parent / "clip.mp4"
    before = files(extracted)
    error = one_error(script("extract_tiles.py", f"--run_dir={extracted}", "--overwrite",
                             f"--video=clip={clip}", "--image_size=36x64",
                             "--paint_data_size=640x360"))  # fmt: skip
    assert "--paint_data_size 640x360 is HEIGHTxWIDTH (640 high, 360 wide)" in error, error
    assert "are 36x64 (HxW)" in error and "e.g. 360x640" in error, error
    assert files(extracted) == before

    from vaest.data.sources import Options, plan_domains, require_paint_aspect

    plans = plan_domains([f"clip={clip}"], [], Options(image_size=(36, 64)))
    require_paint_aspect(plans, (360, 640), "360x640")  # the video's shape passes
    require_paint_aspect(plans, (360, 480), "360x480")  # near it, with a warning
    with pytest.raises(UserError, match="--paint_data_size 480x480 is HEIGHTxWIDTH"):
        require_paint_aspect(plans, (480, 480), "480x480")


@pytest.fixture
def memory_of(monkeypatch):
    """Set the memory available (vaest.memory), so that a bound is tested on any machine."""

    def set_to(gib: float) -> None:
        monkeypatch.setattr("vaest.memory.available_bytes", lambda: int(gib * 2**30))

    return set_to


def test_painting_and_optimising_sizes_that_cannot_fit_are_refused(
    painter_export, tiny_run, tmp_path, memory_of
):
    """The painter on a 16384x9216 output, and --optimize_size 6000x3375,
    each pass the output size's own check and are refused before the work, naming the flag. The
    painter is an export's that paints at 1/brush of any size (made before it recorded the size
    of its training frames, which caps the paint size of newer ones)."""
    from conftest import make_video

    from vaest.export.read import load_export
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run
    from vaest.stylize.settings import Settings

    memory_of(4)
    clip = make_video(tmp_path / "in.mp4", frames=2, size="64x36")
    out = tmp_path / "out"
    out.mkdir()
    painting = Settings(method="paint", output_size="16384x9216")
    optimising = Settings(method="optimize", optimize_size="6000x3375", output_size="6000x3375")
    for asked, run_dir, flag in (
        (painting, painter_export, "painting 4608x8192 pictures (brush 2)"),
        (optimising, tiny_run, "--optimize_size 6000x3375"),
    ):
        exported = load_export(run_dir)
        exported.paint = None  # never reached
        exported.info.pop("painter_frame_size", None)
        job = make_job(asked, clip, out / "o.mp4", run_dir)
        with pytest.raises(UserError, match=rf"^{re.escape(flag)} needs at least \S+ GiB"):
            run(make_plan(job, exported), exported)
        assert list(out.iterdir()) == []


def test_painter_training_that_cannot_fit_is_refused_before_reading(
    painter_run,
    tmp_path,
    memory_of,
):
    from vaest.train.painter import train_painter

    run = linked_run(painter_run, tmp_path / "run", parts=("data", "vae"))
    memory_of(0.001)
    with pytest.raises(UserError, match="^reading the 24 paint frames at 36x64 needs at least"):
        train_painter(run, settings(1), SMALL)
    memory_of(16)
    batch = dataclasses.replace(settings(1), batch_size=10**5)
    with pytest.raises(UserError, match=r"^--batch_size 100000 \(pairs of 32x32 crops"):
        train_painter(run, batch, SMALL)
    assert not (run / "painter" / "checkpoints").exists()


def test_retired_and_bad_paint_sizes_are_one_line(tmp_path):
    """mogrify's --paint_size is retired (the brush sets the paint resolution), extract's is
    renamed; each names what replaced it. A brush outside 1 to 8 is refused."""
    from vaest.errors import UserError
    from vaest.models.config import PainterConfig

    error = one_error(script("mogrify_video.py", f"--run_dir={tmp_path}", "--input=a.mp4",
                             "--output=b.mp4", "--paint_size=640"))  # fmt: skip
    assert error.startswith("error: --paint_size: retired") and "--brush" in error, error
    error = one_error(script("extract_tiles.py", f"--run_dir={tmp_path}", "--paint_size=36x64"))
    assert error == "error: --paint_size: renamed --paint_data_size (HEIGHTxWIDTH)", error
    with pytest.raises(UserError, match="brush must be 1 to 8"):
        PainterConfig(brush=0.5)
