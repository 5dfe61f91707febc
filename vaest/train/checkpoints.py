"""Reading trained models back: the newest checkpoint of RUN/vae and RUN/refiner, for inference.

Shared by the refiner's training (which needs the frozen VAE) and the export, so that neither
imports a trainer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging

from vaest.errors import ConfigMismatch, MissingStep, UserError
from vaest.models.config import (
    PainterConfig,
    RefinerConfig,
    VaeConfig,
    without_retired_defaults,
)
from vaest.models.painter import build_painter
from vaest.models.refiner import build_refiner
from vaest.models.vae import VAE
from vaest.run_dir import CONFIG, RunDir, checkpoints


def save_config(config, folder: str | Path) -> Path:
    """Write folder/config.json atomically."""
    path = Path(folder) / CONFIG
    tmp = path.with_name(f".{CONFIG}.tmp")
    tmp.write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    tmp.replace(path)
    return path


def load_config(cls, folder: str | Path):
    """The config of class cls saved in folder/config.json; a damaged file is a UserError."""
    path = Path(folder) / CONFIG
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        return cls.from_dict(raw)
    except (ValueError, UserError) as err:
        raise ConfigMismatch(f"{path} is damaged or edited by hand ({err})") from None


def latest_step(folder: str | Path) -> int | None:
    """The step of the newest complete checkpoint in a model folder, or None."""
    path = newest_good_checkpoint(folder)
    return None if path is None else step_of(path)


def step_of(prefix: str | Path) -> int:
    return int(str(prefix).rsplit("-", 1)[1])


def checkpoints_on_disk(folder: str | Path) -> list[Path]:
    """Every checkpoint prefix (ckpt-N) with an index file, newest first, indexed or not."""
    found = checkpoints(folder).glob("ckpt-*.index")
    prefixes = [p.with_suffix("") for p in found if p.stem.rsplit("-", 1)[1].isdigit()]
    return sorted(prefixes, key=step_of, reverse=True)


def non_finite(named_values) -> str | None:
    """The name of the first of (name, array) pairs whose floats hold NaN or infinity, or None.
    No checkpoint may hold such weights: they paint black frames, and resuming from them trains
    nothing."""
    for name, value in named_values:
        value = np.asarray(value)
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            return name
    return None


_checked: dict[tuple, str | None] = {}


def damage(prefix: Path) -> str | None:
    """Why a checkpoint cannot be used (every tensor is read back, and must be finite), or None
    if it can."""
    files = sorted(prefix.parent.glob(f"{prefix.name}.*"))
    key = (str(prefix), *((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if key not in _checked:
        try:
            reader = tf.train.load_checkpoint(str(prefix))
            names = reader.get_variable_to_shape_map()
            bad = non_finite((name, reader.get_tensor(name)) for name in names)
            _checked[key] = None if bad is None else f"{bad} holds NaN or infinite values"
        except (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError) as err:
            _checked[key] = str(getattr(err, "message", err)).strip().splitlines()[0][:160]
    return _checked[key]


def newest_good_checkpoint(folder: str | Path, repair: bool = False) -> str | None:
    """The newest checkpoint that reads back whole, with a warning for each newer damaged one and
    for a missing or stale `checkpoint` index. repair: point the index at it, so that training
    resumes there (the damaged files are written over when training reaches their step)."""
    directory = checkpoints(folder)
    indexed = tf.train.latest_checkpoint(str(directory))
    good = None
    for prefix in checkpoints_on_disk(folder):
        problem = damage(prefix)
        if problem is None:
            good = str(prefix)
            break
        logging.warning("%s is damaged (%s): skipping it", prefix, problem)
    if good is not None and (indexed is None or Path(indexed) != Path(good)):
        logging.warning(
            "%s names %s, not the newest complete checkpoint: using %s",
            directory / "checkpoint",
            indexed or "nothing (missing or empty)",
            good,
        )
        if repair:
            # The index is a two-line text proto; written whole, then renamed.
            entry = json.dumps(Path(good).name)
            tmp = directory / ".checkpoint.tmp"
            tmp.write_text(f"model_checkpoint_path: {entry}\nall_model_checkpoint_paths: {entry}\n")
            tmp.replace(directory / "checkpoint")
    return good


def _shown(value):
    return tuple(value) if isinstance(value, list) else value


def require_untouched_config(folder: str | Path) -> None:
    """config.json must still be the one the checkpoints were saved with (their copy in
    checkpoints/): a hand-edited field would otherwise fail deep inside Keras."""
    saved, current = checkpoints(folder) / CONFIG, Path(folder) / CONFIG
    if not (saved.exists() and current.exists()):
        return
    try:
        old, new = json.loads(saved.read_text()), json.loads(current.read_text())
    except ValueError:
        return  # a damaged file is load_config's to report
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return
    # An older plain refiner's retired fields at their defaults: rewritten without them
    old, new = without_retired_defaults(old), without_retired_defaults(new)
    fields = [
        f"{k}: {_shown(old.get(k))} -> {_shown(new.get(k))}"
        for k in sorted(old | new)
        if old.get(k) != new.get(k)
    ]
    if fields:
        raise ConfigMismatch(
            f"{current} differs from the config the checkpoints in {saved.parent} were made with "
            f"({'; '.join(fields)}): put the field back, or train into another --run_dir"
        )


def require_current_loss(folder: str | Path, retired: Callable[[dict], str | None]) -> None:
    """Refuse to resume a model whose config.json shows a retired loss: it still runs, but
    training it on would change what its checkpoints were trained for. retired: the saved
    config -> why it cannot resume (the error after the folder's name), or None."""
    try:
        raw = json.loads((Path(folder) / CONFIG).read_text())
    except (OSError, ValueError):
        return  # a missing or damaged file is load_config's to report
    why = retired(raw) if isinstance(raw, dict) else None
    if why:
        raise ConfigMismatch(f"{folder} {why}")


def require_image_size(config, image_size, folder: str | Path, data_dir: str | Path) -> None:
    """The model in `folder` must work at the data's image size."""
    if tuple(config.image_size) != tuple(image_size):
        model, data = config.image_size, tuple(image_size)
        raise ConfigMismatch(
            f"{folder} was trained at {model[0]}x{model[1]} but {data_dir} holds {data[0]}x"
            f"{data[1]} images (extracted again at another size?): use another --run_dir, or "
            "extract at the model's size"
        )


def load_trained_vae(run_dir: str | Path) -> tuple[VAE, int]:
    """The VAE of RUN/vae at its newest checkpoint, for inference; returns (model, step)."""
    folder = RunDir(run_dir).vae
    step = latest_step(folder)
    if step is None or not (folder / CONFIG).exists():
        raise MissingStep(
            f"no trained VAE in {folder} (no checkpoint or config.json): "
            f"run `python train_vae.py --run_dir {run_dir}` first"
        )
    require_untouched_config(folder)
    config = load_config(VaeConfig, folder)
    model = VAE(config)
    model(np.zeros((1, *config.image_size, 3), np.float32))
    checkpoint = tf.train.Checkpoint(model=model)
    checkpoint.restore(newest_good_checkpoint(folder)).expect_partial()
    return model, step


def load_trained_refiner(run_dir: str | Path):
    """The refiner network of RUN/refiner at its newest checkpoint, or None when there is none."""
    folder = RunDir(run_dir).refiner
    step = latest_step(folder)
    if step is None or not (folder / CONFIG).exists():
        return None, None, None
    require_untouched_config(folder)
    config = load_config(RefinerConfig, folder)
    refiner = build_refiner(config)
    checkpoint = tf.train.Checkpoint(refiner=refiner)
    checkpoint.restore(newest_good_checkpoint(folder)).expect_partial()
    return refiner, config, step


def load_trained_painter(run_dir: str | Path):
    """(the painter of RUN/painter at its newest checkpoint, its step), or (None, None)."""
    folder = RunDir(run_dir).painter
    step = latest_step(folder)
    if step is None or not (folder / CONFIG).exists():
        return None, None
    require_untouched_config(folder)
    painter = build_painter(load_config(PainterConfig, folder))
    checkpoint = tf.train.Checkpoint(painter=painter)
    checkpoint.restore(newest_good_checkpoint(folder)).expect_partial()
    return painter, step
