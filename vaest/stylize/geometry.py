"""How a source picture goes into the model and how the model's output comes back out.

The model sees the frame stretched (when the aspects match, or the export was made with
fit=stretch) or letterboxed (fit=pad). An export made with fit=crop still gets a letterboxed frame
when the aspects differ, because cropping would cut away part of the user's picture. The picture's
part of the model output is then resized into the output size, letterboxed if the output size has
another aspect: nothing is ever distorted or cut off.
"""

from __future__ import annotations

import numpy as np

from vaest.io import imaging


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
        self.inset_size = (max(2, height // 4), max(2, width // 4))

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
            margin = max(1, min(height, width) // 40)
            bottom, right = top + height - margin, left + width - margin
            out[bottom - thumbnail.shape[0] : bottom, right - thumbnail.shape[1] : right] = (
                thumbnail
            )
        return out

    def describe(self) -> str:
        (sh, sw), (mh, mw), (oh, ow) = self.source_size, self.model_size, self.output_size
        how = "stretched" if self.mode == "stretch" else "letterboxed"
        return f"{sw}x{sh} -> model {mw}x{mh} ({how}) -> output {ow}x{oh}"
