"""Bad input is refused with one line before any work; leftovers and locks are handled."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FFMPEG, make_video

from vaest import cli
from vaest.data.records import Manifest
from vaest.errors import ConfigMismatch, UserError
from vaest.io import video
from vaest.io.atomic import remove_stale_temporaries, staged_folder, temp_file
from vaest.io.lock import FolderInUse, folder_lock, lock_path
from vaest.models.config import RefinerConfig, VaeConfig
from vaest.stylize.job import make_job
from vaest.stylize.settings import Settings
from vaest.train.checkpoints import load_config
from vaest.train.loop import TrainSettings, interrupts_deferred

ROOT = Path(__file__).resolve().parents[1]


def script(name: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / name), *args], capture_output=True, text=True, cwd=cwd
    )


def assert_one_line_error(run: subprocess.CompletedProcess, words: str) -> None:
    assert run.returncode == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], run.stderr
    assert "Traceback" not in run.stderr and "FATAL" not in run.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--method=bogus"], "--method=bogus"),
        (["stray"], "unexpected arguments: stray"),
    ],
)
def test_flag_errors_use_the_projects_form(tmp_path, args, words):
    run = script("mogrify_video.py", f"--run_dir={tmp_path}", "--input=x.mp4", *args)
    assert_one_line_error(run, words)


def test_negative_steps_stop_the_script_before_any_work(tmp_path):
    run = script("train_vae.py", f"--run_dir={tmp_path / 'run'}", "--steps=-5")
    assert_one_line_error(run, "--steps must not be negative")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"steps": -5}, "--steps"),
        ({"batch_size": 0}, "--batch_size"),
        ({"batch_size": -3}, "--batch_size"),
        ({"save_every": 0}, "--save_every"),
        ({"preview_every": 0}, "--preview_every"),
        ({"learning_rate": 0.0}, "--learning_rate"),
        ({"learning_rate": float("nan")}, "--learning_rate"),
    ],
)
def test_training_settings_are_checked(values, words):
    with pytest.raises(UserError, match=words):
        TrainSettings(**values)
    TrainSettings(steps=0)  # zero steps is allowed: it only validates


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"image_size": [36, "x"]}, "image_size must be a list of int"),
        ({"beta": -5}, "beta must be"),
        ({"latent_dim": "16"}, "latent_dim must be int"),
        ({"latent_dim": 0}, "latent_dim must be at least 1"),
    ],
)
def test_malformed_vae_config_is_refused(raw, words):
    with pytest.raises(UserError, match=words):
        VaeConfig.from_dict({"image_size": [36, 64], **raw})


def test_negative_refiner_weight_is_refused():
    with pytest.raises(UserError, match="push_weight"):
        RefinerConfig.from_dict({"push_weight": -1.0})


@pytest.mark.parametrize("text", ["", "{", "[]", '{"image_size": [36, "x"]}'])
def test_a_damaged_config_file_is_named(tmp_path, text):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ConfigMismatch, match=str(tmp_path / "config.json")):
        load_config(VaeConfig, tmp_path)


@pytest.mark.parametrize("text", ["", "not json", "{}", '{"image_size": [36], "domains": []}'])
def test_a_damaged_manifest_is_named(tmp_path, text):
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(UserError, match=f"{path} is not a valid manifest"):
        Manifest.read(path)


def test_audio_only_input_says_no_video_stream(tmp_path):
    sound = tmp_path / "sound.m4a"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(sound)], check=True)
    with pytest.raises(video.VideoError, match="no video stream"):
        video.probe(sound)


def test_output_naming_a_folder_is_refused_before_any_work(tmp_path):
    clip = make_video(tmp_path / "in.mp4", frames=5, size="64x36")
    folder = tmp_path / "taken.mp4"
    folder.mkdir()
    with pytest.raises(UserError, match="is a folder"):
        make_job(Settings(), clip, folder, tmp_path)


def test_full_disk_is_one_line_naming_the_place(monkeypatch, capsys):
    def main(argv):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/vae/checkpoints/ckpt-5")

    monkeypatch.setattr(sys, "argv", ["train_vae.py"])
    with pytest.raises(SystemExit) as stop:
        cli.run(main)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no space left on device writing /runs/x/vae/checkpoints/ckpt-5")


# --- one writer per folder ------------------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_second_writer_is_refused_naming_the_first(tmp_path):
    folder = tmp_path / "vae"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from vaest.io.lock import folder_lock\n"
         f"with folder_lock({str(folder)!r}, 'training'):\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderInUse, match=f"process {holder.pid} on .* is training it"):
            with folder_lock(folder, "training"):
                pass
    finally:
        holder.kill()
        holder.wait()
    # Killed: its lock is stale now, and is taken over.
    with folder_lock(folder, "training") as path:
        assert path.read_text().split()[0] == str(os.getpid())
    assert not path.exists()


def test_stale_lock_is_taken_over_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "data"
    import socket

    lock_path(folder).write_text(f"{dead_pid()} {socket.gethostname()}\n")
    with folder_lock(folder, "extracting into"):
        assert lock_path(folder).read_text().split()[0] == str(os.getpid())
    assert "stale lock" in caplog.text
    assert not lock_path(folder).exists()


# --- Ctrl-C during a save, leftovers --------------------------------------------------------------


def test_ctrl_c_during_a_save_waits_for_it():
    before = signal.getsignal(signal.SIGINT)  # the default, or ignored in a background job
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished.append("saved")  # not cut short by the Ctrl-C above
    assert finished == ["saved"]
    with interrupts_deferred(act_after=False):  # the save on interrupt: a second press is dropped
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # restored after the save


def test_temporaries_of_killed_runs_are_removed(tmp_path):
    pid = dead_pid()
    stale_folder = tmp_path / f".export.tmp-{pid}-abcd1234"
    stale_folder.mkdir()
    stale_file = tmp_path / f".clip-stylized.video.tmp-{pid}-x1y2z3.mp4"
    stale_file.write_bytes(b"partial")
    live = tmp_path / f".export.tmp-{os.getpid()}-feed0000"  # a live run's: kept
    live.mkdir()
    with staged_folder(tmp_path / "export") as tmp:
        (tmp / "a").write_text("x")
    assert not stale_folder.exists() and live.exists()
    assert remove_stale_temporaries(tmp_path / "clip-stylized.mp4") == [stale_file]


def test_new_files_follow_the_umask(tmp_path):
    path = temp_file(tmp_path / "out.mp4")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    with staged_folder(tmp_path / "folder") as tmp:
        pass
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o777 & ~mask
    assert not tmp.exists()


# --- variable frame rate --------------------------------------------------------------------------


def make_vfr_clip(path: Path) -> Path:
    """testsrc2 at 30 fps for 6 s with sound, frames 60-99 dropped: 140 frames, variable rate."""
    subprocess.run(
        [FFMPEG, "-y", "-v", "error",
         "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "6",
         "-vf", "select='not(between(n,60,99))'", "-fps_mode", "vfr",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_variable_rate_is_resampled_to_its_base_rate(tmp_path):
    clip = make_vfr_clip(tmp_path / "vfr.mp4")
    assert video.count_frames(clip) == 140
    info = video.probe(clip)
    assert info.variable_rate and info.fps == 30.0 and abs(info.average_fps - 23.33) < 0.01
    frames = sum(1 for _ in video.iter_frames(clip, fps=info.resample_rate))
    assert frames == round(info.duration * info.fps) == 180
    constant = make_video(tmp_path / "cfr.mp4", frames=20, size="64x36")
    assert not video.probe(constant).variable_rate


# --- a full disk ----------------------------------------------------------------------------------


def test_full_disk_in_extraction_names_the_shard_and_leaves_nothing(tmp_path, photos, monkeypatch):
    import tensorflow as tf
    from PIL import Image

    from vaest.data.extract import extract
    from vaest.data.sources import Options, plan_domains

    (tmp_path / "art").mkdir()
    Image.fromarray(photos["coffee"]).save(tmp_path / "art" / "coffee.png")
    options = Options(image_size=(36, 64), tiles_per_painting=4)

    def full(self, record):
        raise tf.errors.ResourceExhaustedError(None, None, "write: No space left on device")

    monkeypatch.setattr(tf.io.TFRecordWriter, "write", full)
    run = tmp_path / "run"
    with pytest.raises(OSError) as err:
        extract(plan_domains([], [f"art={tmp_path / 'art'}"], options), options, run)
    assert err.value.errno == errno.ENOSPC and ".tfrecord.gz" in err.value.filename
    assert not run.exists()  # no RUN/data, no temporary folder, no lock


def test_full_disk_in_a_video_names_the_folder_and_leaves_nothing(tmp_path, monkeypatch):
    import numpy as np

    from vaest.io import video_out

    real = video_out.imageio_ffmpeg.write_frames

    def failing(*args, **kwargs):
        inner = real(*args, **kwargs)
        yield next(inner)
        inner.send(np.zeros((36, 64, 3), np.uint8))
        yield
        inner.close()
        raise OSError("[Errno 32] Broken pipe\n\nFFMPEG STDERR OUTPUT:\nNo space left on device")

    monkeypatch.setattr(video_out.imageio_ffmpeg, "write_frames", failing)
    with pytest.raises(OSError) as err:
        with video_out.VideoWriter(tmp_path / "out.mp4", fps=25, size=(36, 64)) as writer:
            for _ in range(3):
                writer.write(np.zeros((36, 64, 3), np.uint8))
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path)
    assert list(tmp_path.iterdir()) == []


def children_running(pid: int, word: str) -> list[int]:
    """The child processes of `pid` whose command line holds `word`."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids = (task / "children").read_text().split()
            found += [int(c) for c in pids if word in Path(f"/proc/{c}/cmdline").read_text()]
        except OSError:  # the task or the child ended meanwhile
            pass
    return found


def test_ffmpeg_dies_with_a_killed_parent(tmp_path):
    """A run killed while ffmpeg works (here: an endless encode) leaves no ffmpeg behind."""
    parent = subprocess.Popen(
        [sys.executable, "-c", "from vaest.io import video_out\n"
         "video_out._ffmpeg('-v', 'quiet', '-nostats', '-f', 'lavfi', '-i', 'testsrc2=size=64x36', "
         "'-f', 'null', '-')"],
        cwd=ROOT,
    )  # fmt: skip
    ffmpeg = None
    for _ in range(400):  # the encoder, not the `ffmpeg -version` check that precedes it
        ffmpeg = next(iter(children_running(parent.pid, "testsrc2")), None)
        if ffmpeg is not None:
            break
        time.sleep(0.05)
    assert ffmpeg is not None
    parent.kill()
    parent.wait()
    for _ in range(40):
        if not Path(f"/proc/{ffmpeg}").exists():
            break
        time.sleep(0.05)
    outlived = Path(f"/proc/{ffmpeg}").exists()
    if outlived:
        os.kill(ffmpeg, signal.SIGKILL)
    assert not outlived, "ffmpeg outlived its parent"


def test_imageio_ffmpeg_children_are_tied_too():
    import imageio_ffmpeg._io as imageio_io

    from vaest.io import video_out  # noqa: F401  (ties them on import)

    assert getattr(imageio_io._popen_kwargs, "tied", False)
    assert imageio_io._popen_kwargs(prevent_sigint=True)["preexec_fn"] not in (None, os.setpgrp)
