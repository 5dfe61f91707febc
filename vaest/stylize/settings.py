"""What a user chooses for step 7, checked before any work; named after mogrify_video.py flags."""

from __future__ import annotations

from dataclasses import dataclass

from vaest.errors import UserError
from vaest.stylize.methods import DEFAULT_METHOD, METHODS

SOURCE_AUTO, SOURCE_NONE = "auto", "none"
DEFAULT_STRENGTH = 1.0


@dataclass
class Settings:
    """Everything a user chooses; the names follow mogrify_video.py's flags."""

    target: str | None = None  # painting domain; None means the only one
    source: str = SOURCE_AUTO  # auto, a domain name, or none
    strength: float | None = None  # a = b = strength; 1.0 when no weight is given
    source_weight: float | None = None
    target_weight: float | None = None
    smoothing: float = 0.0  # latent EMA factor s in [0, 1)
    pixel_smoothing: bool = False
    refine: bool = True
    method: str = DEFAULT_METHOD  # residual, refine or split (vaest.stylize.methods)
    detail: float = 1.0  # share of the frame's structure kept
    output_size: str = "source"  # source, model or WIDTHxHEIGHT
    inset: bool = False
    start: float = 0.0
    duration: float | None = None
    max_frames: int | None = None
    batch_size: int = 8
    crf: int = 18
    audio: bool = True

    def check(self) -> None:
        if not 0.0 <= self.smoothing < 1.0:
            raise UserError(f"--smoothing must be in [0, 1), not {self.smoothing}")
        if self.batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, not {self.batch_size}")
        if self.start < 0:
            raise UserError(f"--start must not be negative, not {self.start}")
        if self.duration is not None and self.duration <= 0:
            raise UserError(f"--duration must be positive, not {self.duration}")
        if self.max_frames is not None and self.max_frames < 1:
            raise UserError(f"--max_frames must be at least 1, not {self.max_frames}")
        if self.method not in METHODS:
            raise UserError(f"--method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if not 0.0 <= self.detail <= 1.0:
            raise UserError(f"--detail must be in [0, 1], not {self.detail}")
        if not 0 <= self.crf <= 51:
            raise UserError(f"--crf must be in 0..51, not {self.crf}")
        parse_output_size(self.output_size, (2, 2), (2, 2))  # the syntax, before any work
        self.weights()

    def weights(self) -> tuple[float, float]:
        """(a, b) of z' = mu - a * c_source + b * c_target.

        --strength alone (or nothing) gives a = b = strength (default 1.0). Either weight flag
        selects the general form, where a weight not given is 0. Mixing the two is an error.
        """
        general = self.source_weight is not None or self.target_weight is not None
        if general and self.strength is not None:
            raise UserError("give either --strength or --source_weight/--target_weight, not both")
        if general:
            return float(self.source_weight or 0.0), float(self.target_weight or 0.0)
        strength = DEFAULT_STRENGTH if self.strength is None else float(self.strength)
        return strength, strength


def parse_output_size(text: str, source: tuple[int, int], model: tuple[int, int]):
    """'source', 'model' or 'WIDTHxHEIGHT' (width first, like ffmpeg) -> (height, width)."""
    if text == "source":
        return source
    if text == "model":
        return model
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(
            f"--output_size must be source, model or WIDTHxHEIGHT (e.g. 640x360), not {text!r}"
        ) from None
    if width < 2 or height < 2:
        raise UserError(f"--output_size must be at least 2x2, not {text!r}")
    return height, width
