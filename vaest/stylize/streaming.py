"""Streaming helpers: batches of an iterator, and an iterator run ahead in a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator


def batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_DONE = object()


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Run an iterator in a background thread, at most `depth` items ahead of the consumer.

    Errors are raised in the consumer. When the consumer stops (finished, failed or Ctrl-C),
    the thread stops too and closes the iterator, which ends any ffmpeg process behind it.
    """
    results: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                results.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        iterator = iter(items)
        try:
            for item in iterator:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as err:  # handed to the consumer, which raises it
            put((False, err))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = results.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()
