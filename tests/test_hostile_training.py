"""The third hostile try-out, its training and extraction side: a painter that diverges saves
nothing, painter training takes the run lock, sizes that cannot fit are refused before the work,
flags that would be ignored are refused, and extraction validates before it deletes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_painter import SMALL, linked_run, painter_run, settings  # noqa: F401 (a fixture)

from vaest.io.lock import FolderInUse, folder_lock

ROOT = Path(__file__).resolve().parents[1]


def script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / name), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


def test_painter_training_takes_the_run_lock(painter_run, tmp_path):  # noqa: F811
    from vaest.train.painter import train_painter

    run = linked_run(painter_run, tmp_path / "run", parts=("data", "vae"))
    with folder_lock(run / "painter", "training"):
        with pytest.raises(FolderInUse, match=f"is in use: process {os.getpid()} "):
            train_painter(run, settings(1), SMALL)
    assert not (run / "painter" / "checkpoints").exists()
