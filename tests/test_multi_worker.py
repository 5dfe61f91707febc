"""--strategy multi_worker: two train_vae.py processes on this machine, over loopback, each with
its own TF_CONFIG. Only the chief writes RUN/vae, a stopped run resumes on both workers, and two
workers at a global batch of 8 follow the loss curve of one worker at batch 8."""

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

import pytest
from test_vae import SMALL, checkpoint_iterations, make_tiny_data

from vaest.train.checkpoints import latest_step

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--filters=8,8,16,16,16,16", "--kernels=3,3,3,3,3,3", "--latent_dim=16"]  # = SMALL
TIMEOUT = 240  # seconds for a whole run of the cluster; a hung worker is killed, not waited on
# Two trainings share 2 cores here: a thread each keeps them from fighting over both.
THREADS = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "2"}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(run_dir: Path, steps: int, workers: int, scratch: Path) -> list:
    """train_vae.py on `workers` processes over loopback at a global batch of 8, each in its own
    session (so that it can be killed whole) and with its own TMPDIR."""
    args = [sys.executable, str(ROOT / "train_vae.py"), f"--run_dir={run_dir}", *TINY]
    args += [f"--steps={steps}", "--batch_size=8", "--learning_rate=1e-3", "--save_every=6"]
    args += ["--preview_every=6", "--strategy=multi_worker"]
    hosts = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    started = []
    for index in range(workers):
        tmp = scratch / f"tmp{index}"
        tmp.mkdir(parents=True)
        task = {"type": "worker", "index": index}
        tf_config = json.dumps({"cluster": {"worker": hosts}, "task": task})
        env = {**os.environ, **THREADS, "TMPDIR": str(tmp), "TF_CONFIG": tf_config}
        log = open(scratch / f"worker{index}.log", "w+")  # noqa: SIM115 (closed by finish)
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append((process, log))
    return started


def finish(started: list) -> list[str]:
    """Each worker's output once all have ended; any still running after TIMEOUT (a hung or
    orphaned worker) is killed with its whole process group, and the test fails."""
    outputs, deadline = [], time.monotonic() + TIMEOUT
    try:
        for process, _ in started:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        for process, log in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.seek(0)
            outputs.append(log.read())
            log.close()
    for (process, _), output in zip(started, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    return outputs


def logged(run_dir: Path, tag: str) -> dict[int, float]:
    """step -> value of a scalar the chief logged for TensorBoard, over all its runs."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = {}
    for events in sorted((run_dir / "vae" / "logs").glob("events*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        for event in accumulator.Tensors(tag):
            found[event.step] = float(tf.make_ndarray(event.tensor_proto))
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory, photos):
    """One worker trains to step 6 and stops. From that checkpoint two workers go on to step 12
    while one worker does the same in this process."""
    from vaest.train.vae import VaeSettings, train_vae

    base = tmp_path_factory.mktemp("multi_worker")
    data = make_tiny_data(base / "data_run", photos)
    one, two = base / "one", base / "two"
    for run_dir in (one, two):
        shutil.copytree(data, run_dir / "data")
    settings = {"batch_size": 8, "learning_rate": 1e-3, "save_every": 6, "preview_every": 6}
    train_vae(one, VaeSettings(steps=6, **settings), SMALL)
    shutil.copytree(one / "vae", two / "vae")
    scratch = base / "scratch"
    workers = start_workers(two, 12, 2, scratch)
    try:
        train_vae(one, VaeSettings(steps=12, **settings), SMALL)
    finally:
        outputs = finish(workers)
    return {"one": one, "two": two, "scratch": scratch, "outputs": outputs}


def test_only_the_chief_writes_the_run(runs):
    vae = runs["two"] / "vae"
    assert latest_step(vae) == 12
    assert checkpoint_iterations(runs["two"]) == 12
    assert sorted(p.name for p in (vae / "previews").iterdir()) == [
        "step-0000006.png",  # the one-worker run's
        "step-0000012.png",
    ]
    assert set(logged(runs["two"], "validation/loss")) == {6, 12}
    # The other worker saved its checkpoints (and logs) into its own temporary folder, removed
    # at the end, and validated nothing.
    assert list((runs["scratch"] / "tmp1").iterdir()) == []
    assert "validation: {}" in runs["outputs"][1]
    assert "validation: {'loss'" in runs["outputs"][0]


def test_stopped_run_resumes_on_every_worker(runs):
    chief, other = runs["outputs"]
    assert "resumed from" in chief and "ckpt-6 at step 6" in chief
    assert "resumed from" not in other  # it has no checkpoint: the chief's step reaches it
    for output in (chief, other):
        assert "multi_worker on 2 device(s), step 6 of 12" in output


def test_two_workers_follow_one_workers_loss_curve(runs):
    """Same weights at step 6, same global batches (each worker keeps its half of every batch of
    8), same learning rate: the two workers' validation loss (the mean SSE + KL of the held-out
    images, without noise) falls from step 6 to 12 as one worker's does. Not exactly: batch
    norm's statistics come from 4 images instead of 8 and each worker draws its own latent
    noise, which moved the end 0.08 % on one CPU, and 0.33 % alone and 0.64 % (16 % of the
    fall) in the whole suite on another. So the two ends agree within a third of one worker's
    fall, which workers that did not step (a whole fall away) fail. Six steps cannot tell one
    worker at batch 4 apart (0.7 % away): test_replica_gradient.py checks the shared gradient
    itself, exactly, on two replicas in one process."""
    two, one = (logged(runs[n], "validation/loss") for n in ("two", "one"))
    assert two[6] == one[6]
    fall = one[6] - one[12]
    assert fall > 0 and two[12] < two[6]  # both curves fall
    assert abs(two[12] - one[12]) <= fall / 3, (two, one)
    assert {10, 12} <= set(logged(runs["two"], "train/loss"))  # the chief logs training


@pytest.mark.parametrize(
    "tf_config",
    [None, "not json", '{"cluster": {"worker": ["a:1"]}}', '{"cluster": {"worker": ["a:1"]}, '
     '"task": {"type": "worker", "index": 1}}'],
)  # fmt: skip
def test_multi_worker_without_a_usable_tf_config_is_refused(monkeypatch, tf_config):
    from vaest.errors import UserError
    from vaest.train.cluster import is_chief

    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(UserError, match="needs TF_CONFIG"):
        is_chief("multi_worker")


def test_the_chief_is_worker_0_unless_the_cluster_names_one(monkeypatch):
    from vaest.train.cluster import is_chief

    def role(kind: str, index: int, cluster: dict) -> bool:
        task = {"type": kind, "index": index}
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        return is_chief("multi_worker")

    workers = {"worker": ["a:1", "b:1"]}
    assert role("worker", 0, workers) and not role("worker", 1, workers)
    with_chief = {"chief": ["c:1"], **workers}
    assert role("chief", 0, with_chief) and not role("worker", 0, with_chief)
    assert is_chief("default")  # whatever TF_CONFIG says
