"""Folders that appear whole or not at all: built under a hidden name, then renamed into place."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
    tmp = final.with_name(f".{final.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
