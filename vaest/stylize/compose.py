"""How a stylized frame at the model size becomes the output frame.

- placed at the output size (vaest.stylize.geometry), by a plain resize or, for the
  structure-keeping methods, with the frame's own detail at the output size and the model's
  change upsampled along its edges (vaest.upsample);
- with the source's colours, when asked (vaest.colour.keep_colours, in YCbCr: fast at 4K);
- beside the source, when asked: side by side, or above each other for clips wider than 16:9.

The source frame is handed over at its own size, one frame at a time (a video is decoded a second
time, in step with the output, rather than carried through the model's queues): a 4K video costs
a few frames of memory, never a clip, whatever its length, batch size or queue depth.
"""

from __future__ import annotations

import numpy as np

from vaest.colour import keep_colours
from vaest.io.imaging import to_uint8
from vaest.stylize.geometry import Geometry
from vaest.upsample import detail_upsample

GUIDED_METHODS = ("residual", "split")  # the methods that keep the frame's structure
WIDEST_SIDE_BY_SIDE = 16 / 9  # a wider clip is stacked: side by side it would be a thin strip


class Composer:
    """Model-size stylized frames in, output frames out (uint8 at `output_size`)."""

    def __init__(self, geometry: Geometry, settings, method: str, paint=None):
        """settings: a vaest.stylize.settings.Settings (detail, upsample, keep_colours,
        side_by_side); method: the plan's; paint: a vaest.stylize.paint.PaintStage that paints
        each picture at the paint resolution, with the frame, the picture being its colour
        guide."""
        self.paint = paint
        self.geometry = geometry
        self.detail = float(settings.detail)
        content, placement = geometry.content[2:], geometry.placement[2:]
        enlarging = placement[0] * placement[1] > content[0] * content[1]
        self.guided = (
            settings.upsample == "guided"
            and (method in GUIDED_METHODS or paint is not None)
            and self.detail > 0
            and enlarging
        )
        self.whole = method == "optimize"  # pictures come without letterbox bars
        self.keep_colours = settings.keep_colours
        self.side_by_side = side_by_side = settings.side_by_side
        height, width = geometry.output_size
        self.stacked = side_by_side and width > height * WIDEST_SIDE_BY_SIDE * 1.01
        if not side_by_side:
            self.output_size = (height, width)
        else:
            self.output_size = (2 * height, width) if self.stacked else (height, 2 * width)

    @property
    def needs_source(self) -> bool:
        return self.guided or self.keep_colours or self.side_by_side or self.paint is not None

    def __call__(self, styled, fitted, thumbnail=None, frame=None) -> np.ndarray:
        """styled: the model's output (float [0, 1] or uint8); fitted: the model's input;
        thumbnail: the inset (Geometry.thumbnail); frame: the source frame, needed when
        needs_source."""
        geometry = self.geometry
        source = geometry.to_placement(frame) if self.needs_source else None
        if self.guided:
            picture = detail_upsample(
                geometry.content_of(styled), geometry.content_of(fitted), source, self.detail
            )
        elif self.whole:  # already the picture alone, at its own working size
            picture = geometry.to_placement(to_uint8(styled))
        else:
            picture = geometry.to_placement(geometry.content_of(to_uint8(styled)))
        if self.paint is not None:
            picture = self.paint(picture, source)
        if self.keep_colours:
            picture = to_uint8(keep_colours(picture, source, space="ycbcr"))
        out = geometry.frame(picture, thumbnail)
        if self.side_by_side:
            out = np.concatenate([geometry.frame(source), out], axis=0 if self.stacked else 1)
        return out

    def describe(self) -> str:
        parts = ["edge-aware detail upsampling" if self.guided else "resized"]
        parts += [self.paint.describe()] if self.paint is not None else []
        parts += ["source colours"] if self.keep_colours else []
        if self.side_by_side:
            parts.append("below the source" if self.stacked else "beside the source")
        return ", ".join(parts)
