"""Files and folders that appear whole or not at all: built under a hidden name beside the
target, then renamed into place.

A temporary's name holds its process id (`.NAME.tmp-PID-XXXX`), so that the next run can tell the
leftovers of a killed run (whose process is gone) from the work of a live one, and remove them.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from absl import logging

from vaest.errors import UserError
from vaest.io.lock import process_alive


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _read_umask()  # read once, at import: setting it is not thread-safe


def remove_stale_temporaries(final: str | Path) -> list[Path]:
    """Remove the temporaries beside `final` left by killed runs (their process is gone)."""
    final = Path(final)
    stem = re.escape(final.stem if final.suffix else final.name)
    pattern = re.compile(rf"\.{stem}\..*tmp-(\d+)-")
    removed = []
    for path in final.parent.glob(".*tmp-*"):
        match = pattern.match(path.name)
        if match is None or process_alive(int(match.group(1))):
            continue
        logging.warning("removing %s, left by a run that was killed", path)
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def require_writable(folder: str | Path, what: str = "output") -> None:
    """Refuse, before any work, a folder (or its nearest existing parent, where it would be made)
    that this process cannot write: tried by making a file, which also holds for root and ACLs."""
    folder = Path(folder).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".vaest-write-check-"):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UserError(f"cannot write the {what} into {existing} ({reason}): choose another "
                        "folder, or make it writable") from None  # fmt: skip


def disk_full(err: BaseException, where: str | Path) -> OSError | None:
    """The error to raise for a full disk (an OSError naming `where`, which the scripts report in
    one line), or None when `err` is something else; TensorFlow and ffmpeg say it in words."""
    if getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(err):
        return OSError(errno.ENOSPC, "No space left on device", str(where))
    return None


def temp_file(path: str | Path, kind: str = "") -> Path:
    """A new hidden file beside `path` (.NAME.KIND.tmp-PID-XXXX.SUFFIX) with the user's umask:
    beside it, so that the final rename is atomic; uniquely named, so that two writers never
    clobber each other's work."""
    path = Path(path)
    remove_stale_temporaries(path)
    handle, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.{kind}tmp-{os.getpid()}-", suffix=path.suffix
    )
    os.close(handle)
    os.chmod(name, 0o666 & ~UMASK)  # mkstemp makes 0600; a finished file follows the umask
    return Path(name)


def replace_folder(tmp: Path, final: Path) -> None:
    """Rename a finished folder to `final`; an old one there goes only after the swap."""
    if not final.exists():
        tmp.rename(final)
        return
    old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
    final.rename(old)
    tmp.rename(final)
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink()


@contextmanager
def staged_folder(final: str | Path) -> Iterator[Path]:
    """Yield a hidden folder beside `final` to write into; on success it replaces `final`, on
    any error or Ctrl-C it is removed and `final` is left as it was."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        yield tmp
        replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
