"""--method optimize in the stylizing pipeline: the export gives each frame's palette and first
guess, vaest.stylize.optimize_frames finds the picture at the working size.

- colour: decode(z'), z' the frame's shifted latent as for every other method (the Stylizer's,
  with its timeline and smoothing);
- first guess, for a first frame and after a cut: `residual`, the fastest painted method, its
  change upsampled along the frame's edges (vaest.stylize.upsample) to the working size;
- texture: the target domain's (or mix's, at the frame's time) painting tiles, or a style
  video's frame (vaest.stylize.target_video).

The working size is the output picture's size, capped by --optimize_size (WIDTHxHEIGHT): the
picture is then resized to the output.
"""

from __future__ import annotations

import numpy as np

from vaest.errors import UserError
from vaest.io.imaging import as_float_images, to_uint8
from vaest.stylize.methods import stylize_latents
from vaest.stylize.optimize_frames import FrameOptimizer
from vaest.stylize.upsample import detail_upsample

DEFAULT_OPTIMIZE_SIZE = "640x360"


def parse_optimize_size(text: str) -> tuple[int, int]:
    """--optimize_size WIDTHxHEIGHT -> the cap (height, width)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(
            f"--optimize_size must be WIDTHxHEIGHT (e.g. 640x360), not {text!r}"
        ) from None
    if width < 16 or height < 16:
        raise UserError(f"--optimize_size must be at least 16x16, not {text!r}")
    return height, width


def working_size(picture: tuple[int, int], cap: tuple[int, int]) -> tuple[int, int]:
    """The picture's size (height, width), scaled down to fit inside cap, aspect kept."""
    scale = min(1.0, cap[0] / picture[0], cap[1] / picture[1])
    return max(16, round(picture[0] * scale)), max(16, round(picture[1] * scale))


class OptimizeMethod:
    """Frames in stream order in, optimised pictures (float [0, 1], working size) out.

    stylizer: a vaest.stylize.stylizer.Stylizer, for z' (its shift, timeline and smoothing);
    textures: an object whose at(seconds) gives the texture target (texture_target's);
    content_of: the picture's part of a model-size image (Geometry.content_of).
    """

    def __init__(self, stylizer, frame_optimizer: FrameOptimizer, textures, content_of):
        self.stylizer = stylizer
        self.exported = stylizer.exported
        self.optimizer = frame_optimizer
        self.textures = textures
        self.content_of = content_of

    def __call__(self, fitted, working, times, means=None) -> list[np.ndarray]:
        """fitted: [N, h, w, 3] at the model size; working: the same frames at the working size;
        times: their times in seconds; means: their mu when known."""
        fitted = np.asarray(fitted)
        if means is None:
            means = self.exported.encode(fitted)[0]
        shifted = self.stylizer.latents(fitted, means, times)
        decoded = self.exported.decode(shifted)
        pictures = []
        for i, frame in enumerate(working):
            frame = as_float_images(frame)

            def first_guess(i=i, frame=frame):
                styled = stylize_latents(
                    self.exported, fitted[i : i + 1], shifted[i : i + 1], means[i : i + 1],
                    "residual", self.stylizer.refine, self.stylizer.detail,
                )[0]  # fmt: skip
                return as_float_images(
                    detail_upsample(
                        self.content_of(styled), self.content_of(fitted[i]), to_uint8(frame)
                    )
                )

            colour = self.content_of(decoded[i])  # upsampled by the objective
            texture = self.textures.at(float(times[i]))
            pictures.append(self.optimizer(frame, colour, texture, first_guess))
        return pictures
