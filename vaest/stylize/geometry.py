"""How a source picture goes into the model and how the model's output comes back out.

The model sees the frame stretched (when the aspects match, or the export was made with
fit=stretch) or letterboxed (fit=pad). An export made with fit=crop still gets a letterboxed frame
when the aspects differ, because cropping would cut away part of the user's picture. The picture's
part of the model output is then resized into the output size, letterboxed if the output size has
another aspect: nothing is ever distorted or cut off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaest.errors import UserError
from vaest.io import imaging
from vaest.memory import image_bytes, require_memory


class Geometry:
    """How a source picture goes into the model and how the model's output comes back out."""

    def __init__(self, source_size, model_size, output_size, fit: str, inset: bool = False):
        self.source_size = tuple(source_size)
        self.model_size = tuple(model_size)
        self.output_size = tuple(output_size)
        self.inset = inset
        box = imaging.pad_box(self.source_size, self.model_size)
        same_aspect = box[2:] == self.model_size
        # Stretching is undone exactly by resizing back; cropping a picture of another aspect
        # would lose part of it, so such a picture is letterboxed instead.
        self.mode = "stretch" if fit == "stretch" or same_aspect else "pad"
        self.fit_changed = fit == "crop" and not same_aspect
        self.content = (0, 0, *self.model_size) if self.mode == "stretch" else box
        self.placement = imaging.pad_box(self.source_size, self.output_size)
        top, left, height, width = self.placement
        self.margin = max(1, min(height, width) // 40) if min(height, width) > 2 else 0
        # A quarter of the picture, and never more than fits inside its margin (a 2x2 output).
        self.inset_size = tuple(
            max(1, min(max(2, side // 4), side - self.margin)) for side in (height, width)
        )

    def fit(self, frame: np.ndarray) -> np.ndarray:
        return imaging.fit_image(frame, self.model_size, self.mode)

    def thumbnail(self, frame: np.ndarray) -> np.ndarray | None:
        """The source frame at inset size, or None without an inset; made early, so that only
        this small copy of a large frame waits in the pipeline."""
        return imaging.resize(np.asarray(frame), *self.inset_size) if self.inset else None

    def content_of(self, model_image: np.ndarray) -> np.ndarray:
        """The picture's part of a model-size image (no letterbox bars)."""
        top, left, height, width = self.content
        return model_image[top : top + height, left : left + width]

    def to_placement(self, picture: np.ndarray) -> np.ndarray:
        """A uint8 picture (the source frame, or the content of a model output) resized to the
        place the picture takes in the output."""
        return imaging.resize(np.asarray(picture), *self.placement[2:])

    def place(self, styled: np.ndarray, thumbnail: np.ndarray | None = None) -> np.ndarray:
        """uint8 model output -> uint8 frame at the output size, the source picture undistorted."""
        return self.frame(self.to_placement(self.content_of(styled)), thumbnail)

    def frame(self, picture: np.ndarray, thumbnail: np.ndarray | None = None) -> np.ndarray:
        """A uint8 picture at the placement size -> the output frame, letterboxed and with the
        inset when asked."""
        if self.placement[2:] == self.output_size and thumbnail is None:
            return picture
        out = np.zeros((*self.output_size, 3), np.uint8)
        top, left, height, width = self.placement
        out[top : top + height, left : left + width] = picture
        if thumbnail is not None:
            # Picture in picture: the untouched source in the bottom-right corner.
            bottom, right = top + height - self.margin, left + width - self.margin
            out[bottom - thumbnail.shape[0] : bottom, right - thumbnail.shape[1] : right] = (
                thumbnail
            )
        return out

    def describe(self) -> str:
        (sh, sw), (mh, mw), (oh, ow) = self.source_size, self.model_size, self.output_size
        how = "stretched" if self.mode == "stretch" else "letterboxed"
        return f"{sw}x{sh} -> model {mw}x{mh} ({how}) -> output {ow}x{oh}"


@dataclass(frozen=True)
class Framing:
    """What every picture of a job shares on its way in and out of the model: the output size
    asked for (--output_size: source, model or WIDTHxHEIGHT), the model's size and fit, the
    inset. Each picture's Geometry then follows from its own size."""

    output_size: str
    model_size: tuple[int, int]
    fit: str
    inset: bool = False

    @classmethod
    def of(cls, settings, exported) -> Framing:
        """The framing that settings (a vaest.stylize.settings.Settings) ask of the export."""
        return cls(settings.output_size, exported.image_size, exported.manifest.fit, settings.inset)

    def geometry(self, source_size) -> Geometry:
        """How a picture of source_size goes in and out of the model."""
        size = parse_output_size(self.output_size, source_size, self.model_size)
        return Geometry(source_size, self.model_size, size, self.fit, self.inset)


def width_by_height(text: str, flag: str, smallest: int, others: str = "") -> tuple[int, int]:
    """A flag's 'WIDTHxHEIGHT' (width first, like ffmpeg), each side at least `smallest` ->
    (height, width); others: the flag's other choices, named in the error."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(
            f"{flag} must be {others}WIDTHxHEIGHT (e.g. 640x360), not {text!r}"
        ) from None
    if width < smallest or height < smallest:
        raise UserError(f"{flag} must be at least {smallest}x{smallest}, not {text!r}")
    return height, width


def parse_output_size(text: str, source: tuple[int, int], model: tuple[int, int]):
    """'source', 'model' or 'WIDTHxHEIGHT' (width first, like ffmpeg) -> (height, width)."""
    if text == "source":
        return source
    if text == "model":
        return model
    height, width = width_by_height(text, "--output_size", 2, "source, model or ")
    # An output frame is composed from float32 copies at its size.
    require_memory(image_bytes(height, width, copies=2), f"--output_size {text}", "ask less")
    return height, width
