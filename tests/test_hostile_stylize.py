"""The third hostile try-out, step 7: a style video with the painter, a still image of any size
as the style, the paintings optimize reads, tiny outputs, damaged shards and export.json, and
a style path that is a FIFO or a folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import make_video

from vaest.errors import UserError
from vaest.io import imaging
from vaest.io.video import iter_frames
from vaest.stylize.settings import Settings


@pytest.fixture(scope="module")
def run_dir(tiny_run, tmp_path_factory) -> Path:
    """A copy of the shared export: RUN/out is written here, not into the shared run."""
    folder = tmp_path_factory.mktemp("hostile-stylize")
    shutil.copytree(tiny_run / "export", folder / "export")
    return folder


@pytest.fixture(scope="module")
def exported(run_dir):
    from vaest.export.read import Exported

    return Exported.from_run(run_dir)


def stylize(exported, run_dir: Path, input_path: Path, output: Path, **settings):
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run

    job = make_job(Settings(**settings), input_path, output, run_dir)
    return run(make_plan(job, exported), exported)


# --- a still image as the style, at any size ----------------------------------------------------


def test_a_still_image_of_any_size_is_one_target(exported, run_dir, tmp_path, photos):
    from vaest.stylize.target_video import StyleFrames

    still = tmp_path / "style.png"
    imaging.save_image(photos["coffee"][::3, ::5], still)  # 134x128: not the model's 36x64
    frames = StyleFrames(still, (20, 30))
    assert frames.at(0.0).shape == frames.at(2.5).shape == (20, 30, 3)
    clip = make_video(tmp_path / "in.mp4", frames=4, size="64x36", fps=10)
    result = stylize(exported, run_dir, clip, tmp_path / "out.mp4", target_video=str(still))
    assert result.frames == 4
    assert len(list(iter_frames(result.path))) == 4


# --- a FIFO or a folder as --target_video --------------------------------------------------------


def test_a_fifo_or_a_folder_as_the_style_is_named_for_what_it_is(tmp_path):
    fifo = tmp_path / "style.mp4"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file .*FIFO") as caught:
        Settings(target_video=str(fifo)).check()
    assert "no such file" not in str(caught.value)
    with pytest.raises(UserError, match="is a folder") as caught:
        Settings(target_video=str(tmp_path)).check()
    assert "no such file" not in str(caught.value)
    with pytest.raises(UserError, match="no such file"):
        Settings(target_video=str(tmp_path / "missing.mp4")).check()
