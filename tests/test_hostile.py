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
import threading
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


def test_unreachable_worker_is_named_after_the_cluster_timeout(monkeypatch, caplog):
    from vaest.train.cluster import read_cluster, wait_for_peers

    missing = two_worker_cluster(monkeypatch)
    caplog.set_level("INFO")
    start = time.monotonic()
    with pytest.raises(UserError, match="--cluster_timeout") as raised:
        wait_for_peers(read_cluster(), timeout=1.0, poll=0.1)
    assert missing in str(raised.value) and time.monotonic() - start < 10
    assert f"waiting up to 1 s for workers {missing}" in caplog.text


def test_ctrl_c_stops_the_wait_for_workers(monkeypatch):
    from vaest.train.cluster import read_cluster, wait_for_peers

    two_worker_cluster(monkeypatch)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        wait_for_peers(read_cluster(), timeout=60.0, poll=0.1)
    assert time.monotonic() - start < 10
    timer.join()


def test_a_worker_that_listens_is_waited_for_no_longer(monkeypatch):
    from vaest.train.cluster import read_cluster, wait_for_peers

    with socket.socket() as peer:
        peer.bind(("127.0.0.1", 0))
        peer.listen()
        port = peer.getsockname()[1]
        cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{port}"]}
        task = {"type": "worker", "index": 0}
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        start = time.monotonic()
        wait_for_peers(read_cluster(), timeout=30.0, poll=0.1)
        assert time.monotonic() - start < 5


def test_cluster_timeout_must_be_positive():
    from vaest.train.loop import TrainSettings

    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(UserError, match="--cluster_timeout"):
            TrainSettings(cluster_timeout=bad)
