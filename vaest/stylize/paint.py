"""The painted method at the paint resolution: the latent shift's colour guide, then the painter.

In step 7 (PaintStage), the guide is the `residual` method's picture at the output size: the
frame plus the shift's change upsampled along its edges; the painter paints it with the frame at
the paint resolution, 1/brush of the output size (the painter's config), and the painted picture
is brought back to the output size with the frame's own detail (vaest.upsample.painted_upsample).

For frames at the paint resolution (any size of the model's aspect), the VAE runs at the model
size on the fitted frames: decode(z') and decode(mu) give the shift's change, which is laid on
the frame along its edges (vaest.upsample.colour_guide); the exported painter
(export_graphs.py's paint signature) then paints frame and guide at their own size.
"""

from __future__ import annotations

import numpy as np

from vaest.errors import MissingStep
from vaest.io.imaging import fit_image, resize, to_uint8
from vaest.latent import Shift
from vaest.memory import painter_bytes, require_memory
from vaest.stylize.clock import Clock
from vaest.stylize.stylizer import require_finite
from vaest.upsample import colour_guide, paint_resolution, painted_upsample


def painter_weights(exported, mix: dict[str, float]) -> np.ndarray:
    """[domains] weights in the export's painter order for {painting domain: weight}."""
    order = exported.painter_domains
    unknown = set(mix) - set(order)
    if unknown:
        raise MissingStep(
            f"the painter was not trained on {sorted(unknown)[0]!r}; it paints {', '.join(order)}"
        )
    weights = np.array([mix.get(name, 0.0) for name in order], np.float32)
    return weights / max(float(weights.sum()), 1e-9)


def colour_guides(exported, frames, shift: Shift, kind: str | None = None) -> np.ndarray:
    """The painter's colour guides for frames at the paint resolution, float32 [N,H,W,3]."""
    kind = kind or exported.painter_guide
    small = np.stack([fit_image(f, exported.image_size) for f in to_uint8(frames)])
    means, _ = exported.encode(small)
    styled = exported.decode(shift.apply(means))
    rebuilt = exported.decode(means)
    return np.stack(
        [colour_guide(f, s, r, kind) for f, s, r in zip(frames, styled, rebuilt, strict=True)]
    )


def paint_frames(exported, frames, guides, weights, batch: int = 4) -> np.ndarray:
    """The exported painter on frames and their guides at any size, painted at the paint
    resolution and brought back to their size as step 7 does; weights [domains] (one blend
    for every frame) or [N, domains]. float32 [N,H,W,3] in [0, 1]."""
    if not exported.has_painter:
        raise MissingStep(
            f"{exported.folder} has no painter: run `python train_refiner.py --painter` and "
            "`python export_graphs.py` first"
        )
    weights = np.asarray(weights, np.float32)
    weights = np.broadcast_to(weights, (len(frames), weights.shape[-1]))
    size = paint_resolution(
        *frames.shape[1:3], exported.painter_config.brush, exported.painter_frame_size
    )
    out = []
    for start in range(0, len(frames), batch):
        part = slice(start, start + batch)
        painted, small = paint_at(exported, size, frames[part], guides[part], weights[part])
        for picture, frame, full in zip(painted, small, frames[part], strict=True):
            out.append(painted_upsample(picture, frame, full))
    return np.stack(out).astype(np.float32)


def paint_at(exported, size: tuple[int, int], frames, guides, weights):
    """(painted float [N,h,w,3], the frames at that size as uint8): the exported painter on
    frames and guides of any size, resized to the paint resolution `size` first."""
    small = [np.stack([resize(to_uint8(x), *size) for x in images]) for images in (frames, guides)]
    painted = require_finite(exported.paint(*small, weights), "the painted frame")
    return painted, small[0]


class PaintStage:
    """Output pictures in, painted pictures out, one at a time and in order (at their times on
    the clock, for a timeline's domain blend)."""

    def __init__(self, exported, schedule, clock: Clock, stabilizer=None):
        """schedule: vaest.stylize.targets.TargetSchedule, whose mixes blend the painter's
        domains (or a style video's vaest.stylize.style_video.StyleLatents, the mix nearest
        to each style frame); stabilizer: a vaest.stylize.stabilize.FlowStabilizer for a
        video's painted frames, run at the paint resolution, where the strokes are made."""
        self.exported, self.schedule, self.clock = exported, schedule, clock
        self.stabilizer = stabilizer
        # a vaest.flow.TemporalMeter for --measure_temporal (run_video sets it): the painted
        # frames' flicker is measured at the paint resolution, where the strokes are made
        self.meter = None
        self._frames = 0
        self._config = exported.painter_config
        self._largest = exported.painter_frame_size
        self._fits: set[tuple[int, int]] = set()  # picture sizes whose painting fits in memory

    def paint_size_of(self, height: int, width: int) -> tuple[int, int]:
        """The size a picture of this size is painted at."""
        return paint_resolution(height, width, self._config.brush, self._largest)

    def require_memory(self, height: int, width: int) -> None:
        """Refuse, before painting, pictures of this size whose painting cannot fit in memory."""
        if (height, width) in self._fits:
            return
        size = self.paint_size_of(height, width)
        require_memory(
            painter_bytes(self._config, *size),
            f"painting {size[0]}x{size[1]} pictures (brush {self._config.brush:g})",
            "choose a smaller --output_size",
        )
        self._fits.add((height, width))

    def weights(self, time: float) -> np.ndarray:
        mix = dict(zip(self.schedule.names, self.schedule.weights_at(time)[0], strict=True))
        return painter_weights(self.exported, mix)

    def __call__(self, guide: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """guide, frame: uint8 [H, W, 3] at the picture's size -> the painted uint8 picture."""
        height, width = guide.shape[:2]
        self.require_memory(height, width)
        size = self.paint_size_of(height, width)
        time = self.clock.times(self._frames, 1)[0]
        self._frames += 1
        painted, small = paint_at(
            self.exported, size, frame[None], guide[None], self.weights(time)[None]
        )
        painted, small = painted[0], small[0]
        if self.stabilizer is not None:
            painted = self.stabilizer(small, painted)
        painted = to_uint8(painted)
        if self.meter is not None:
            self.meter.add(small, painted)
        if size == (height, width):
            return painted
        return to_uint8(painted_upsample(painted, small, frame))

    def describe(self) -> str:
        return f"painted at 1/{self._config.brush:g} of the output size"
