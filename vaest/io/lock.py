"""One writer per folder: a lock file beside RUN/data, RUN/vae, RUN/refiner or RUN/painter.

Two trainings on one folder would mix their checkpoints, and two extractions would race for
RUN/data. The lock file `.NAME.lock` sits beside the folder (not in it, so that RUN/data can be
replaced whole) and holds "pid host". A second process is refused with a message naming the
first; a lock whose process is gone (killed, machine restarted) is taken over with a warning.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from absl import logging

from vaest.errors import UserError


class FolderInUse(UserError):
    """Another live process holds the folder's lock."""


def lock_path(folder: str | Path) -> Path:
    folder = Path(folder)
    return folder.with_name(f".{folder.name}.lock")


def _owner(path: Path) -> tuple[int, str] | None:
    """(pid, host) written in a lock file, or None when it is unreadable or half-written."""
    try:
        pid, host = path.read_text().split()
        return int(pid), host
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _take(path: Path, me: str) -> bool:
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as file:
        file.write(me + "\n")
    return True


@contextmanager
def folder_lock(folder: str | Path, what: str) -> Iterator[Path]:
    """Hold the lock of `folder` while `what` (e.g. "training") writes it."""
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    me = f"{os.getpid()} {host}"
    for _ in range(3):  # a stale lock may be taken over by another process at the same time
        if _take(path, me):
            break
        owner = _owner(path)
        if owner is None:  # perhaps being written this instant: look again
            time.sleep(0.2)
            owner = _owner(path)
        if owner is not None and (owner[1] != host or process_alive(owner[0])):
            raise FolderInUse(
                f"{folder} is in use: process {owner[0]} on {owner[1]} is {what} it (lock "
                f"{path}); wait for it to end, or stop it"
            )
        logging.warning("taking over the stale lock %s (its process %s is gone)", path, owner)
        path.unlink(missing_ok=True)
    else:
        raise FolderInUse(f"{folder}: could not take the lock {path}")
    try:
        yield path
    finally:
        if _owner(path) == (os.getpid(), host):
            path.unlink(missing_ok=True)
