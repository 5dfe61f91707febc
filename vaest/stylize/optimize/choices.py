"""--method optimize's flags, without TensorFlow: their choices and defaults (Settings.check
checks them before any work), and what the plan resolves them to."""

from __future__ import annotations

from dataclasses import dataclass

OPTIMIZERS = ("lbfgs", "adam")
TEXTURES = ("sliced", "gram")
DEFAULT_ITERATIONS = 10  # per frame; a first frame, or one after a cut, takes more
DEFAULT_OPTIMIZER = "lbfgs"
DEFAULT_TEXTURE = "sliced"
DEFAULT_OPTIMIZE_SIZE = "640x360"
SMALLEST_SIDE = 16  # pixels: --optimize_size's least width and height


@dataclass(frozen=True)
class OptimizeChoices:
    """--method optimize as the plan resolved it."""

    iterations: int  # per frame
    optimizer: str  # lbfgs or adam
    texture: str  # sliced or gram
    cap: tuple[int, int]  # --optimize_size as (height, width): the working size's cap

    def describe_cap(self) -> str:
        return f"--optimize_size {self.cap[1]}x{self.cap[0]}"
