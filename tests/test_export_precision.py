"""The export's bfloat16 graphs (vaest.export.precision) and --precision's choice."""

from __future__ import annotations

import numpy as np
import pytest

from vaest import device
from vaest.data.records import domain_images
from vaest.errors import UserError
from vaest.export.read import Exported
from vaest.latent import Shift
from vaest.stylize.methods import stylize_by_method


def psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_bfloat16_graphs_stay_within_40_db_of_float32(tiny_run):
    frames = domain_images(tiny_run / "data", "val", "clip")
    plain, fast = Exported.from_run(tiny_run), Exported.from_run(tiny_run)
    fast.precision = "bfloat16"
    assert plain.has_bfloat16
    mean, fast_mean = plain.encode(frames)[0], fast.encode(frames)[0]
    assert fast_mean.dtype == np.float32
    drift = np.abs(fast_mean - mean).max() / np.abs(mean).max()
    shift = Shift.toward(mean.mean(0), plain.domain("art").centroid, 1.0)
    ours, theirs = stylize_by_method(plain, frames, shift), stylize_by_method(fast, frames, shift)
    figures = {method: psnr(ours[method], theirs[method]) for method in ours}
    print(f"latent drift {drift:.4f}; PSNR of bfloat16 against float32: {figures}")
    assert drift < 0.05
    assert min(figures.values()) >= 40.0, figures
    assert not np.array_equal(ours["residual"], theirs["residual"])  # it did run in bfloat16


def test_auto_takes_bfloat16_only_on_a_cpu_that_computes_it(monkeypatch):
    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2", "avx512f", "amx_bf16"})
    assert device.resolve_precision("auto", "/CPU:0", available=True) == "bfloat16"
    assert device.resolve_precision("auto", "/CPU:0", available=False) == "float32"
    assert device.resolve_precision("auto", "/GPU:0", available=True) == "float32"
    assert device.resolve_precision("float32", "/CPU:0", available=True) == "float32"
    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2", "fma"})
    assert device.resolve_precision("auto", "/CPU:0", available=True) == "float32"
    assert device.resolve_precision("bfloat16", "/CPU:0", available=True) == "bfloat16"
    with pytest.raises(UserError, match="no bfloat16 graphs"):
        device.resolve_precision("bfloat16", "/CPU:0", available=False)
    with pytest.raises(UserError, match="--precision"):
        device.resolve_precision("half", "/CPU:0", available=True)
