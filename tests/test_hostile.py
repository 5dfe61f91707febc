"""The second hostile try-out: SIGTERM loses nothing, malformed clusters and sizes are refused in
one line, a multi-worker run waits for its peers visibly, an export is checked for foreign ops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vaest import cli
from vaest.errors import Terminated, UserError
from vaest.io.atomic import staged_folder
from vaest.io.lock import folder_lock, lock_path

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--filters=8,8,16,16,16,16", "--kernels=3,3,3,3,3,3", "--latent_dim=16"]


@pytest.fixture
def sigterm_raises():
    """SIGTERM handled as the scripts handle it (vaest.cli.run), restored afterwards."""
    before = signal.getsignal(signal.SIGTERM)
    cli.terminate_like_interrupt()
    yield
    signal.signal(signal.SIGTERM, before)


def test_sigterm_removes_staged_folders_locks_and_temporary_files(tmp_path, sigterm_raises):
    with pytest.raises(Terminated):
        with folder_lock(tmp_path / "data", "extracting"), staged_folder(tmp_path / "data") as tmp:
            (tmp / "shard").write_text("partial")
            os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(Terminated):
        with staged_folder(tmp_path / "export"):
            os.kill(os.getpid(), signal.SIGTERM)
    assert not lock_path(tmp_path / "data").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sigterm_ends_a_video_write_without_leaving_its_temporary(tmp_path, sigterm_raises):
    from vaest.io.video_out import VideoWriter

    frame = np.zeros((36, 64, 3), np.uint8)
    with pytest.raises(Terminated):
        with VideoWriter(tmp_path / "out.mp4", fps=25, size=(36, 64)) as writer:
            for i in range(50):
                writer.write(frame)
                if i == 10:
                    os.kill(os.getpid(), signal.SIGTERM)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_a_save_waits_for_it_and_then_stops(sigterm_raises):
    from vaest.train.loop import interrupts_deferred

    finished = []
    with pytest.raises(Terminated):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            finished.append("saved")
    assert finished == ["saved"]


def test_sigterm_during_training_saves_and_releases_the_lock(tiny_run, tmp_path):
    """One short train_vae.py run, stopped with SIGTERM once it has made a few steps."""
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run / "data", run_dir / "data")
    args = [sys.executable, str(ROOT / "train_vae.py"), f"--run_dir={run_dir}", *TINY]
    args += ["--steps=100000", "--batch_size=2", "--save_every=100000", "--preview_every=3"]
    process = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    previews = run_dir / "vae" / "previews"
    deadline = time.monotonic() + 180
    while not any(previews.glob("step-*.png")) and process.poll() is None:
        assert time.monotonic() < deadline, "no step was made"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "terminated: saved" in out and err.rstrip().endswith("terminated"), (out, err[-2000:])
    from vaest.train.checkpoints import latest_step

    assert latest_step(run_dir / "vae") >= 3
    assert not lock_path(run_dir / "vae").exists()
    assert "Traceback" not in err


# --- multi-worker: TF_CONFIG, logs under numpy 2, unreachable peers ------------------------------


@pytest.mark.parametrize(
    ("cluster", "task", "words"),
    [
        ({"worker": "h:1"}, {"type": "worker", "index": 0}, 'cluster "worker" must be a list'),
        ({"worker": ["h:1"]}, {"type": "worker", "index": -1}, "task index -1"),
        ({"worker": ["not a host"]}, {"type": "worker", "index": 0}, "'not a host'"),
        ({"worker": ["h:99999"]}, {"type": "worker", "index": 0}, "'h:99999'"),
        ({"worker": ["h:1"]}, {"type": "worker", "index": "0"}, "task index '0'"),
        ({"ps": ["h:1"]}, {"type": "ps", "index": 0}, 'map "worker"'),
    ],
)
def test_malformed_tf_config_is_one_line_naming_the_fault(monkeypatch, cluster, task, words):
    from vaest.train.cluster import is_chief

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    with pytest.raises(UserError, match="needs TF_CONFIG") as raised:
        is_chief("multi_worker")
    assert words in str(raised.value)


def test_multi_worker_logs_of_one_element_arrays_are_read(tmp_path):
    """Under multi_worker train_step returns [1] vectors (for_multi_worker), which reach the
    callback as one-element arrays: float() of those is a TypeError under numpy 2."""
    import keras

    from vaest.train.loop import Schedule, _Monitor

    logged = []

    class Run:
        name = "vae"
        schedule = Schedule(steps=10, batch_size=2, log_every=1)

        def log_scalars(self, step, values, prefix):
            logged.append(values)

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(1)
    monitor = _Monitor(Run(), 0)
    monitor.set_model(model)
    monitor.on_train_batch_end(0, {"loss": np.array([0.25], np.float32)})
    monitor.close()
    assert logged and logged[0]["loss"] == 0.25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_worker_cluster(monkeypatch) -> str:
    """TF_CONFIG of a two-worker cluster whose worker 1 is never started; returns its address."""
    missing = f"127.0.0.1:{free_port()}"
    cluster = {"worker": [f"127.0.0.1:{free_port()}", missing]}
    config = {"cluster": cluster, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    return missing


class FakeClock:
    """time.monotonic and time.sleep for vaest.train.cluster: a sleep moves the clock on at once,
    so a wait is counted in polls, whatever the machine's load."""

    def __init__(self, monkeypatch):
        from vaest.train import cluster

        self.now, self.sleeps = 1000.0, []
        monkeypatch.setattr(cluster.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(cluster.time, "sleep", self.sleep)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_unreachable_worker_is_named_after_the_cluster_timeout(monkeypatch, caplog):
    from vaest.train.cluster import read_cluster, wait_for_peers

    missing = two_worker_cluster(monkeypatch)
    caplog.set_level("INFO", logger="absl")  # whatever verbosity an earlier import left
    clock = FakeClock(monkeypatch)
    with pytest.raises(UserError, match="--cluster_timeout") as raised:
        wait_for_peers(read_cluster(), timeout=1.0, poll=0.1)
    assert missing in str(raised.value)
    assert sum(clock.sleeps) == pytest.approx(1.0, abs=0.1 + 1e-6)  # gave up at the timeout
    assert f"waiting up to 1 s for workers {missing}" in caplog.text


def test_ctrl_c_stops_the_wait_for_workers(monkeypatch):
    """Ctrl-C pressed while the leader polls for a worker ends the wait at once, where the
    timeout (an hour here) would otherwise decide. The press comes from inside the first poll,
    so no timer races the wait; Python's own Ctrl-C handler is installed for the test, as in a
    terminal (a shell's background job inherits SIGINT ignored)."""
    from vaest.train import cluster as cluster_module

    two_worker_cluster(monkeypatch)
    polls = []

    def press_ctrl_c_while_polling(address):
        polls.append(address)
        if len(polls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return False

    monkeypatch.setattr(cluster_module, "_answers", press_ctrl_c_while_polling)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            cluster_module.wait_for_peers(cluster_module.read_cluster(), timeout=3600.0, poll=0.1)
    finally:
        signal.signal(signal.SIGINT, before)
    assert len(polls) == 1  # stopped during the first wait between polls, not at the deadline


def test_a_worker_that_listens_is_waited_for_no_longer(monkeypatch):
    from vaest.train.cluster import read_cluster, wait_for_peers

    with socket.socket() as peer:
        peer.bind(("127.0.0.1", 0))
        peer.listen()
        port = peer.getsockname()[1]
        cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{port}"]}
        task = {"type": "worker", "index": 0}
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        clock = FakeClock(monkeypatch)
        wait_for_peers(read_cluster(), timeout=30.0, poll=0.1)
        assert clock.sleeps == []  # it answered the first poll


def test_cluster_timeout_must_be_positive():
    from vaest.train.loop import TrainSettings

    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(UserError, match="--cluster_timeout"):
            TrainSettings(cluster_timeout=bad)


# --- an export is a program -----------------------------------------------------------------------


def test_the_projects_own_export_holds_no_foreign_op(tiny_run):
    from vaest.export.read import load_export
    from vaest.export.trust import foreign_ops

    assert foreign_ops(tiny_run / "export" / "saved_model") == []
    assert load_export(tiny_run, "cpu", "float32").latent_dim > 0


def test_an_export_that_writes_files_is_refused_unless_trusted(tiny_run, tmp_path):
    """A SavedModel whose signature writes a file, in place of the run's own: refused by name
    before it is loaded, so the file is never written; --trust_export loads it."""
    import tensorflow as tf

    from vaest.export.read import load_export

    run = tmp_path / "run"
    shutil.copytree(tiny_run / "export", run / "export")
    written = tmp_path / "written.txt"

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 36, 64, 3], tf.float32)])
        def encode(self, images):
            tf.io.write_file(str(written), "owned")
            return {"mean": tf.reduce_mean(images, axis=[1, 2])}

    shutil.rmtree(run / "export" / "saved_model")
    module = Writer()
    tf.saved_model.save(module, str(run / "export" / "saved_model"), {"encode": module.encode})
    with pytest.raises(UserError, match=r"the ops? (.*, )?WriteFile\b.*--trust_export"):
        load_export(run, "cpu", "float32")
    assert not written.exists()
    trusted = load_export(run, "cpu", "float32", trust=True)
    trusted.model.signatures["encode"](images=tf.zeros([1, 36, 64, 3]))
    assert written.read_text() == "owned"  # what the check kept from running


# --- step 7: weights, flags and sizes refused before any work ------------------------------------


def settings(**values):
    from vaest.stylize.settings import Settings

    return Settings(**values)


def test_huge_mix_weights_are_normalised_not_lost():
    from vaest.stylize.targets import parse_target

    (key,) = parse_target("wave:1e308,scream:1e308")
    assert key.mix == (("wave", 0.5), ("scream", 0.5))
    (key,) = parse_target("wave:3e307+scream:1e308")
    assert [name for name, _ in key.mix] == ["wave", "scream"]
    assert key.mix[1][1] == pytest.approx(1e308 / 1.3e308)


@pytest.mark.parametrize(
    ("spec", "words"),
    [("art:", "the weight ''"), ("art@1_0", "the time '1_0'"), ("art:1_0", "the weight '1_0'")],
)
def test_target_numbers_are_plain_decimals(spec, words):
    from vaest.stylize.targets import parse_target

    with pytest.raises(UserError, match=words):
        parse_target(spec)


def test_target_weight_with_an_exponent_is_one_number():
    from vaest.stylize.targets import parse_target

    (key,) = parse_target("art:1e+5,wave:1e5")
    assert key.mix == (("art", 0.5), ("wave", 0.5))
    first, second = parse_target("art@0,wave:2e+0+art@1.5e+1")
    assert second.time == 15.0 and second.mix == (("wave", 2 / 3), ("art", 1 / 3))


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"start": float("nan")}, "--start"),
        ({"start": float("inf")}, "--start"),
        ({"start": 1e300}, "--start"),
        ({"duration": float("nan")}, "--duration"),
        ({"duration": float("inf")}, "--duration"),
        ({"duration": 1e300}, "--duration"),
        ({"method": "paint", "refine": False}, "--no_refine"),
    ],
)
def test_step_7_settings_are_refused_before_any_work(values, words):
    with pytest.raises(UserError, match=words):
        settings(**values).check()


def test_paint_with_the_refiner_is_still_allowed():
    settings(method="paint").check()


def test_a_fifo_input_is_refused_as_not_a_regular_file(tmp_path):
    from vaest.io import video
    from vaest.stylize.job import make_job

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file or a folder"):
        make_job(settings(), fifo, tmp_path / "out.mp4", tmp_path)
    with pytest.raises(UserError, match="must be a regular file"):
        video.probe(fifo)  # extraction's reader: not "no such file"


def test_an_empty_mp4_is_named_empty_not_sound_only(tmp_path):
    from conftest import FFMPEG

    from vaest.io import video

    empty = tmp_path / "empty.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25", "-frames:v", "0"]
    subprocess.run([FFMPEG, "-v", "error", "-y", *lavfi, str(empty)], check=True)
    with pytest.raises(UserError, match="no streams at all") as raised:
        video.probe(empty)
    assert "sound only" not in str(raised.value)


def test_a_relative_name_with_a_colon_is_read_as_a_file(tmp_path, monkeypatch):
    from conftest import make_video

    from vaest.io import video

    make_video(tmp_path / "take:1.mp4", frames=5, size="64x36")
    monkeypatch.chdir(tmp_path)
    assert video.probe("take:1.mp4").size == (36, 64)
    assert sum(1 for _ in video.iter_frames("take:1.mp4")) == 5


def test_inset_fits_the_tiniest_outputs():
    from vaest.stylize.geometry import Geometry

    for source, output in [((2, 2), (2, 2)), ((36, 64), (2, 2)), ((2, 2), (3, 5))]:
        geometry = Geometry(source, (36, 64), output, "crop", inset=True)
        picture = np.full((*geometry.placement[2:], 3), 100, np.uint8)
        thumbnail = np.full((*geometry.inset_size, 3), 200, np.uint8)
        frame = geometry.frame(picture, thumbnail)
        assert frame.shape == (*output, 3) and (frame == 200).any()


def test_sizes_that_cannot_fit_in_memory_are_refused_in_one_line():
    from vaest.data.sources import parse_image_size
    from vaest.memory import available_bytes, training_bytes
    from vaest.models.config import VaeConfig
    from vaest.stylize.geometry import parse_output_size

    assert available_bytes() > 0
    with pytest.raises(UserError, match="--output_size 99999x99999 needs at least"):
        parse_output_size("99999x99999", (2, 2), (2, 2))
    with pytest.raises(UserError, match="--image_size 99998x99998 needs at least"):
        parse_image_size("99998x99998")
    config = VaeConfig(image_size=(72, 128))
    assert training_bytes(config, 100000) > available_bytes() > training_bytes(config, 50)
    assert parse_output_size("1920x1080", (2, 2), (2, 2)) == (1080, 1920)


def test_a_batch_that_cannot_fit_stops_training_before_the_model_is_built(tiny_run, tmp_path):
    from conftest import TINY_MODEL

    from vaest.train.vae import VaeSettings, train_vae

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run / "data", run_dir / "data")
    with pytest.raises(UserError, match="--batch_size 10000000 at 36x64 needs at least"):
        train_vae(run_dir, VaeSettings(steps=1, batch_size=10**7), TINY_MODEL)
    assert not list((run_dir / "vae").glob("checkpoints/ckpt-*"))
    from vaest.train.refiner import RefinerSettings, train_refiner

    shutil.copytree(tiny_run / "vae", run_dir / "vae", dirs_exist_ok=True)
    with pytest.raises(UserError, match="--batch_size 10000000 at 36x64 needs at least"):
        train_refiner(run_dir, RefinerSettings(steps=1, batch_size=10**7))
    assert not (run_dir / "refiner" / "checkpoints").exists()


def test_odd_image_sizes_are_refused_at_extraction():
    from vaest.data.sources import parse_image_size

    with pytest.raises(UserError, match="two even sides"):
        parse_image_size("3x5")
    assert parse_image_size("36x64") == (36, 64)


@pytest.mark.parametrize("name", ["auto", "none"])
def test_video_domains_cannot_take_the_names_of_sources_choices(tmp_path, name):
    from conftest import make_video

    from vaest.data.sources import Options, plan_domains

    clip = make_video(tmp_path / "clip.mp4", frames=3, size="64x36")
    with pytest.raises(UserError, match=f"cannot be named {name}"):
        plan_domains([f"{name}={clip}"], [], Options(image_size=(36, 64)))


def test_mp4_frames_beyond_h264s_limit_are_refused_before_any_frame(tiny_run, tmp_path):
    from conftest import make_video

    from vaest.export.read import Exported
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan

    clip = make_video(tmp_path / "clip.mp4", frames=2, size="64x36")
    exported = Exported.from_run(tiny_run)
    for values in ({"output_size": "20000x12"}, {"output_size": "9000x6000", "side_by_side": True}):
        job = make_job(settings(**values), clip, tmp_path / "out.mp4", tiny_run)
        with pytest.raises(UserError, match="beyond H.264's 16384 pixels"):
            make_plan(job, exported)
    job = make_job(settings(output_size="20000x12"), clip, tmp_path / "out.gif", tiny_run)
    make_plan(job, exported)  # a GIF may be that wide
    assert list(tmp_path.iterdir()) == [clip]


def test_the_record_in_the_mp4_names_the_export_by_content_not_by_path(tiny_run, tmp_path):
    from conftest import make_video

    from vaest.export.read import Exported
    from vaest.io.video_out import read_comment
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run as stylize_run
    from vaest.stylize.settings import parse_record

    clip = make_video(tmp_path / "clip.mp4", frames=3, size="64x36")
    exported = Exported.from_run(tiny_run)
    job = make_job(
        settings(measure_temporal=True, max_frames=1), clip, tmp_path / "o.mp4", tiny_run
    )
    result = stylize_run(make_plan(job, exported), exported)
    comment = read_comment(result.path)
    assert str(tiny_run.parent) not in comment and "/" not in comment.replace("\\/", "")
    export = parse_record(comment)["export"]
    assert export["run"] == tiny_run.name and export["sha256"] == exported.digest()
    assert len(export["sha256"]) == 64
    # One frame: its temporal error is undefined, and says why instead of "nan".
    assert result.frames == 1 and result.temporal["ratio"] is None
    assert "two frames" in result.temporal["undefined"]


def test_a_one_frame_clip_gives_null_flicker_figures_with_a_reason(tiny_run, tmp_path):
    from conftest import make_video

    from vaest.evaluate.flicker import temporal_figures_by_method
    from vaest.export.read import Exported

    clip = make_video(tmp_path / "one.mp4", frames=1, size="64x36")
    figures = temporal_figures_by_method(Exported.from_run(tiny_run), clip, "art", 150)
    text = json.dumps(figures, allow_nan=False)  # strict JSON: no bare NaN
    assert figures["residual"]["ratio"] is None and "two frames" in figures["residual"]["undefined"]
    assert "NaN" not in text


# --- read-only folders ---------------------------------------------------------------------------


def without_root_powers(code: str) -> subprocess.CompletedProcess:
    """Python code run without the capability to override file permissions (root has it)."""
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]
    drop = drop if os.geteuid() == 0 else []
    return subprocess.run(
        [*drop, sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
    )


def test_read_only_folders_are_named_before_any_work(tmp_path):
    from PIL import Image

    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    code = f"""
from pathlib import Path
from vaest.errors import UserError
from vaest.data.sources import check_output
from vaest.io.atomic import require_writable
from vaest.stylize.job import make_job
from vaest.stylize.settings import Settings
from vaest.train.cluster import own_folder
ro = Path({str(folder)!r})
for check in (lambda: require_writable(ro / "out"), lambda: check_output(ro / "run", False),
              lambda: own_folder(ro / "vae", "default").__enter__(),
              lambda: make_job(Settings(), {str(image)!r}, ro / "x.png", ro)):
    try:
        check()
        print("written")
    except UserError as err:
        print(err)
"""
    try:
        run = without_root_powers(code)
    finally:
        folder.chmod(0o755)
    lines = run.stdout.splitlines()
    assert len(lines) == 4 and all(f"into {folder}" in line for line in lines), run.stderr
    assert "Permission denied" in lines[0] and list(folder.iterdir()) == []


def test_non_square_pixels_are_stylized_as_they_play(tiny_run, tmp_path):
    """A 48x36 clip with a sample aspect ratio of 4:3 plays as 64x36: so does its output."""
    from conftest import FFMPEG

    from vaest.export.read import Exported
    from vaest.io import video
    from vaest.stylize.job import make_job
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run as stylize_run

    clip = tmp_path / "sar.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc2=size=48x36:rate=25", "-frames:v", "3"]
    encode = ["-vf", "setsar=4/3", "-pix_fmt", "yuv420p", "-c:v", "libx264", str(clip)]
    subprocess.run([FFMPEG, "-v", "error", "-y", *lavfi, *encode], check=True)
    info = video.probe(clip)
    assert info.size == (36, 48) and info.display_size == (36, 64)
    exported = Exported.from_run(tiny_run)
    job = make_job(settings(max_frames=2), clip, tmp_path / "out.mp4", tiny_run)
    assert {frame.shape for frame in job.frames()} == {(36, 64, 3)}
    result = stylize_run(make_plan(job, exported), exported)
    out = video.probe(result.path)
    assert out.display_size == (36, 64) and out.sample_aspect == 1


def test_messages_read_right(tiny_run, tmp_path):
    """An image's article, and the paint hint names the painter's training command."""
    import re

    from PIL import Image

    from vaest.errors import MissingStep
    from vaest.export.read import Exported
    from vaest.stylize.job import make_job
    from vaest.stylize.methods import require_method

    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    with pytest.raises(UserError, match="an image input gives an image output"):
        make_job(settings(), image, tmp_path / "out.mp4", tmp_path)
    command = re.escape(f"train_refiner.py --run_dir {tiny_run} --painter`")
    with pytest.raises(MissingStep, match=command):
        require_method(Exported.from_run(tiny_run), "paint")
