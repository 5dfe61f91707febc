"""What every top-level script shares: one-line errors, the shared flags, logging."""

from __future__ import annotations

import errno
import os
import signal
import sys
from dataclasses import fields
from pathlib import Path

from absl import app, flags, logging

from vaest import run_dir
from vaest.errors import Terminated, UserError


def _key_flags_of_caller(names: list[str], depth: int = 2) -> None:
    """A flag belongs to the module that defines it; make these key flags of the calling script
    too, so that its --help lists them (absl names a script by its argv[0])."""
    caller = sys._getframe(depth).f_globals.get("__name__", "")
    module = sys.argv[0] if caller == "__main__" else caller
    for name in names:
        flags.FLAGS.register_key_flag_for_module(module, flags.FLAGS[name])


def _define_run_dir() -> None:
    flags.DEFINE_string("run_dir", run_dir.DEFAULT, "Run directory shared by all seven steps.")


def define_run_dir_flag() -> None:
    _define_run_dir()
    _key_flags_of_caller(["run_dir"])


def define_trust_export_flag() -> None:
    flags.DEFINE_boolean(
        "trust_export", False,
        "Load an export whose graphs hold ops that vaest's own exports do not (the check is an "
        "allowlist, doc/export.md). Also lets --method optimize read paintings the export's "
        "manifest names outside the run. An export is a program: load one from someone else "
        "only if you trust its maker.",
    )  # fmt: skip
    _key_flags_of_caller(["trust_export"])


def define_training_flags(steps: int, batch_size: int) -> None:
    """The flags train_vae.py and train_refiner.py share, with their own step and batch defaults."""
    flags.DEFINE_integer("steps", steps, "Stop when this many steps have been made in total.")
    flags.DEFINE_integer("batch_size", batch_size, "Images per step, over all devices.")
    flags.DEFINE_float("learning_rate", 2e-4, "Adam learning rate.")
    flags.DEFINE_enum(
        "strategy", "default", ["default", "mirrored", "multi_worker"],
        "default: one device; mirrored: all GPUs of this machine; multi_worker: one process "
        "per machine, the machines named in TF_CONFIG (see doc/training.md).",
    )  # fmt: skip
    flags.DEFINE_float(
        "cluster_timeout", 600.0,
        "multi_worker: give up, in one line, when a worker named in TF_CONFIG has not answered "
        "after this many seconds.",
    )  # fmt: skip
    flags.DEFINE_integer("save_every", 500, "Checkpoint and validate every this many steps.")
    flags.DEFINE_integer("preview_every", 250, "Write a preview grid every this many steps.")
    flags.DEFINE_integer("seed", 0, "Seed for initial weights, data order and sampling.")
    flags.DEFINE_float(
        "minutes", 0.0,
        "A time budget: stop (and save) after this many minutes of training in this call, or "
        "at --steps, whichever comes first. 0: no budget.",
    )  # fmt: skip
    flags.DEFINE_bool(
        "overwrite", False,
        "Start afresh when the folder holds checkpoints that cannot be resumed (none is "
        "complete, or all hold NaN): without it, trained weights are never written over.",
    )  # fmt: skip
    _define_run_dir()
    names = ["steps", "batch_size", "learning_rate", "strategy", "save_every", "preview_every"]
    _key_flags_of_caller([*names, "cluster_timeout", "seed", "minutes", "overwrite", "run_dir"])


def settings_from_flags(cls, **given):
    """A settings dataclass whose fields take the values of the flags of the same name; `given`
    sets the fields that have no flag of their name (e.g. refine=not FLAGS.no_refine)."""
    values = {f.name: flags.FLAGS[f.name].value for f in fields(cls) if f.name in flags.FLAGS}
    return cls(**(values | given))


def refuse_flags(names, reason: str) -> None:
    """A UserError naming those of the flags `names` given on the command line, followed by
    `reason`, why they would be ignored: a flag that does nothing must not pass in silence."""
    given = [f"--{name}" for name in names if flags.FLAGS[name].present]
    if given:
        raise UserError(f"{', '.join(given)}: {reason}")


def fail(message: str) -> None:
    """The one-line form of every user-facing error: `error: ...` on stderr, exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, with a bad flag or a stray argument reported like any other error."""
    try:
        rest = flags.FLAGS(argv)
    except flags.Error as err:
        fail(str(err).splitlines()[0])
    if len(rest) > 1:
        fail(f"unexpected arguments: {' '.join(rest[1:])} (every option is a --flag)")
    return rest


def _no_space(err: OSError) -> str:
    where = f" writing {err.filename}" if err.filename else ""
    return f"no space left on device{where}: free some space and run again"


def _terminate(signum, frame):
    raise Terminated


def terminate_like_interrupt() -> None:
    """Make SIGTERM raise Terminated, a KeyboardInterrupt, so that it takes Ctrl-C's path:
    training saves and releases its lock, every temporary is removed."""
    signal.signal(signal.SIGTERM, _terminate)


def run(main) -> None:
    """absl's app.run, with a UserError (vaest.errors), a full disk, Ctrl-C and SIGTERM turned
    into a one-line message and a non-zero exit code; any other exception is a bug and keeps its
    traceback."""

    def guarded(argv):
        logging.set_verbosity(logging.INFO)
        logging.use_absl_handler()
        terminate_like_interrupt()
        try:
            return main(argv)
        except UserError as err:
            fail(str(err))
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            fail(_no_space(err))
        except KeyboardInterrupt as err:
            terminated = isinstance(err, Terminated)
            print("terminated" if terminated else "interrupted", file=sys.stderr)
            sys.exit(128 + (signal.SIGTERM if terminated else signal.SIGINT))

    app.run(guarded, flags_parser=parse_flags)


def require_file(path: str | os.PathLike, what: str, hint: str = "") -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} not found: {path}" + (f" ({hint})" if hint else ""))
    return path
