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
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf

from vaest.errors import UserError
from vaest.io.lock import folder_lock
from vaest.models.vae import to_float_images

MULTI_WORKER = tf.distribute.MultiWorkerMirroredStrategy


def is_chief(strategy_name: str) -> bool:
    """Whether this process writes the run's files: always, except in a multi-worker run, where
    only the chief does (the "chief" task of TF_CONFIG, or worker 0 when there is none)."""
    if strategy_name != "multi_worker":
        return True
    try:
        config = json.loads(os.environ.get("TF_CONFIG", ""))
        cluster, kind, index = config["cluster"], config["task"]["type"], config["task"]["index"]
        cluster[kind][index]  # noqa: B018 (this task must be in the cluster)
    except (ValueError, KeyError, TypeError, IndexError):
        hint = "naming the cluster and this process's task (see doc/training.md)"
        raise UserError(f"--strategy multi_worker needs TF_CONFIG {hint}") from None
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)


@contextmanager
def own_folder(folder: Path, strategy_name: str) -> Iterator[Path]:
    """The folder this process trains into: `folder`, locked, on the chief; on another worker a
    temporary folder, removed at the end (every worker takes part in a save)."""
    if is_chief(strategy_name):
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
