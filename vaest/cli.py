"""What every top-level script shares: one-line errors, the run directory layout, logging."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from absl import app, flags, logging

DEFAULT_RUN_DIR = "runs/default"


class UserError(Exception):
    """A mistake in the user's input: reported as one line, without a traceback."""


def define_run_dir_flag() -> None:
    flags.DEFINE_string("run_dir", DEFAULT_RUN_DIR, "Run directory shared by all seven steps.")
    # A flag belongs to the module that defines it; make it a key flag of the calling script
    # too, so that the script's --help lists it (absl names a script by its argv[0]).
    caller = sys._getframe(1).f_globals.get("__name__", "")
    module = sys.argv[0] if caller == "__main__" else caller
    flags.FLAGS.register_key_flag_for_module(module, flags.FLAGS["run_dir"])


def run(main, expected: tuple[type[Exception], ...] = ()) -> None:
    """absl's app.run, with UserError, the `expected` exception types and Ctrl-C turned into a
    one-line message and a non-zero exit code."""

    def guarded(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        logging.set_verbosity(logging.INFO)
        logging.use_absl_handler()
        try:
            return main(argv)
        except (UserError, *expected) as err:
            # str(KeyError) quotes its message; show the message itself.
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    app.run(guarded)


def require_file(path: str | os.PathLike, what: str, hint: str = "") -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} not found: {path}" + (f" ({hint})" if hint else ""))
    return path
