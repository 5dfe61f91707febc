"""Training on several machines (--strategy multi_worker): who writes, and what every worker
must share.

TF_CONFIG names the cluster and this process's task. Only the chief writes the run's folder; the
other workers train into a temporary folder (every worker takes part in a save) that is removed
at the end. The chief's weights, optimizer state and step reach the others on every start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf
from absl import logging

from vaest.errors import UserError
from vaest.io.atomic import require_writable
from vaest.io.lock import folder_lock
from vaest.models.vae import to_float_images

MULTI_WORKER = tf.distribute.MultiWorkerMirroredStrategy


@dataclass(frozen=True)
class Cluster:
    """TF_CONFIG, checked: every task's "host:port", and this process's task."""

    tasks: dict[str, list[str]]  # task type -> addresses, e.g. {"worker": ["h1:2222", "h2:2222"]}
    kind: str  # this process's task type
    index: int

    @property
    def address(self) -> str:
        return self.tasks[self.kind][self.index]

    @property
    def is_leader(self) -> bool:
        """The chief, or worker 0 when there is none: it writes the run, the others join it."""
        first = "chief" if "chief" in self.tasks else "worker"
        return self.kind == first and self.index == 0

    @property
    def leader(self) -> str:
        return (self.tasks.get("chief") or self.tasks["worker"])[0]

    def peers(self) -> list[str]:
        """Every other task's address."""
        return [a for addresses in self.tasks.values() for a in addresses if a != self.address]


def _address(text) -> bool:
    host, _, port = text.rpartition(":") if isinstance(text, str) else ("", "", "")
    return bool(host) and " " not in host and port.isdigit() and 0 < int(port) < 65536


def _refuse(reason: str) -> UserError:
    return UserError(
        "--strategy multi_worker needs TF_CONFIG naming the cluster and this process's task: "
        f"{reason} (see doc/training.md)"
    )


def read_cluster() -> Cluster:
    """TF_CONFIG as a Cluster; anything malformed is a one-line error naming what is wrong."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", ""))
        tasks, kind, index = config["cluster"], config["task"]["type"], config["task"]["index"]
    except (ValueError, KeyError, TypeError):
        raise _refuse("missing, not JSON, or without cluster, task.type or task.index") from None
    if not isinstance(tasks, dict) or not ({"chief", "worker"} & set(tasks)):
        raise _refuse('"cluster" must map "worker" (or "chief") to a list of "host:port"')
    for name, addresses in tasks.items():
        if not isinstance(addresses, list) or not addresses:
            raise _refuse(f'cluster "{name}" must be a list of "host:port", not {addresses!r}')
        for address in addresses:
            if not _address(address):
                raise _refuse(f'{address!r} in cluster "{name}" is not "host:port"')
    if kind not in tasks:
        raise _refuse(f"this task's type {kind!r} is not in the cluster")
    if type(index) is not int or not 0 <= index < len(tasks[kind]):
        raise _refuse(f"task index {index!r} is not one of 0..{len(tasks[kind]) - 1}")
    return Cluster(tasks, kind, index)


def is_chief(strategy_name: str) -> bool:
    """Whether this process writes the run's files: always, except in a multi-worker run, where
    only the chief does (the "chief" task of TF_CONFIG, or worker 0 when there is none)."""
    return strategy_name != "multi_worker" or read_cluster().is_leader


def _answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
            return True
    except OSError:
        return False


def wait_for_peers(cluster: Cluster, timeout: float, poll: float = 0.5) -> None:
    """On the leader: wait (interruptibly) until every other task listens, up to `timeout` s.
    TensorFlow's own wait cannot be stopped and never gives up."""
    missing = cluster.peers()
    if missing:
        logging.info("waiting up to %g s for workers %s", timeout, ", ".join(missing))
    deadline = time.monotonic() + timeout
    while missing:
        missing = [address for address in missing if not _answers(address)]
        if missing and time.monotonic() > deadline:
            raise UserError(
                f"--strategy multi_worker: {', '.join(missing)} did not answer within {timeout:g} s"
                " (--cluster_timeout): start every worker, or check the addresses in TF_CONFIG"
            )
        if missing:
            time.sleep(poll)


@contextmanager
def _signals_end_the_process() -> Iterator[None]:
    """While TensorFlow blocks without returning to Python, Ctrl-C and SIGTERM end the process
    at once (nothing is trained yet) instead of waiting unseen."""
    stops = (signal.SIGINT, signal.SIGTERM)
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, signal.SIG_DFL) for s in stops} if main else {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def multi_worker_strategy(timeout: float) -> MULTI_WORKER:
    """The strategy of TF_CONFIG's cluster; a worker that does not answer within `timeout`
    seconds is a one-line error."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    cluster = read_cluster()
    if cluster.is_leader:
        wait_for_peers(cluster, timeout)
    if context.context().coordination_service is None:
        # What the strategy would configure itself, plus how long the others wait for the leader.
        jobs = [
            coordination_config_pb2.CoordinatedJob(name=name, num_tasks=len(cluster.tasks[name]))
            for name in ("chief", "worker")
            if name in cluster.tasks
        ]
        leader = "/job:chief/replica:0/task:0" if "chief" in cluster.tasks else None
        context.context().configure_coordination_service(
            service_type="standalone",
            service_leader=leader or "/job:worker/replica:0/task:0",
            cluster_register_timeout_in_ms=int(timeout * 1000),
            coordinated_jobs=jobs,
        )
    logging.info("joining the cluster (leader %s)", cluster.leader)
    try:
        with _signals_end_the_process():
            return MULTI_WORKER()
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError):
        raise UserError(
            f"--strategy multi_worker: the leader {cluster.leader} did not answer within "
            f"{timeout:g} s (--cluster_timeout): start it, or check the addresses in TF_CONFIG"
        ) from None


@contextmanager
def own_folder(folder: Path, strategy_name: str) -> Iterator[Path]:
    """The folder this process trains into: `folder`, locked, on the chief; on another worker a
    temporary folder, removed at the end (every worker takes part in a save)."""
    if is_chief(strategy_name):
        require_writable(folder, "training")
        with folder_lock(folder, "training"):
            yield folder
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"vaest-{folder.name}-worker-"))
    try:
        yield scratch / folder.name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def broadcast_from_first_replica(strategy: tf.distribute.Strategy, variables: list) -> None:
    """Give every worker replica 0's (the chief's) values, exactly: a sum to which the other
    replicas add zeros."""
    values = [v.value if hasattr(v, "value") else v for v in variables]

    def own_or_zero():
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        return [context.all_reduce("SUM", tf.where(first, v, tf.zeros_like(v))) for v in values]

    reduced = tf.function(lambda: strategy.run(own_or_zero))()
    for variable, value in zip(values, reduced, strict=True):
        variable.assign(strategy.experimental_local_results(value)[0])


def for_multi_worker(model: keras.Model, batches: tf.data.Dataset) -> tf.data.Dataset:
    """Work around two things Keras' fit does under MultiWorkerMirroredStrategy: it reduces a
    first batch across workers, which collectives cannot do for uint8 (so images come as floats
    in [0, 1], what the models make of uint8), and it averages the workers' logs along axis 0,
    which scalars lack (so train_step returns [1] vectors, whose average is the global mean)."""
    if not getattr(model, "_logs_as_vectors", False):
        step = model.train_step
        model.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in step(data).items()}
        model._logs_as_vectors = True

    def to_float(*batch):
        floats = tuple(to_float_images(x) if x.dtype == tf.uint8 else x for x in batch)
        return floats if len(floats) > 1 else floats[0]

    return batches.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
