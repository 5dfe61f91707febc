"""--method optimize's flags and their checks, without TensorFlow: Settings checks them before
any work starts."""

from __future__ import annotations

from vaest.errors import UserError
from vaest.stylize.geometry import width_by_height

OPTIMIZERS = ("lbfgs", "adam")
TEXTURES = ("sliced", "gram")
DEFAULT_ITERATIONS = 10  # per frame; a first frame, or one after a cut, takes more
DEFAULT_OPTIMIZER = "lbfgs"
DEFAULT_TEXTURE = "sliced"
DEFAULT_OPTIMIZE_SIZE = "640x360"


def check_iterations(value) -> int:
    """--iterations: a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"--iterations must be a whole number of at least 1, not {value!r}")
    return value


def check_optimizer(name: str) -> None:
    if name not in OPTIMIZERS:
        raise UserError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")


def check_texture(name: str) -> None:
    if name not in TEXTURES:
        raise UserError(f"--texture_loss must be one of {', '.join(TEXTURES)}, not {name!r}")


def parse_optimize_size(text: str) -> tuple[int, int]:
    """--optimize_size WIDTHxHEIGHT -> the cap on the working size, (height, width)."""
    return width_by_height(text, "--optimize_size", 16)
