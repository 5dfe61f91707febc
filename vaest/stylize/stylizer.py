"""Fitted frames in, stylized frames out: the latent shift, its centroids and the smoothing state.

- c_target is the painting domain's centroid, a mix of several, or a timeline of mixes
  (vaest.stylize.targets), taken at each frame's time; c_source comes from vaest.stylize.source.
- For `refine` without smoothing, the exported `stylize` graph does it all in one call per batch;
  otherwise encode, decode and refine run apart, which latent smoothing (an exponential moving
  average of z' across frames) and reusing the mu of the --source auto pass need too.
"""

from __future__ import annotations

import numpy as np

from vaest.errors import UserError
from vaest.latent import Shift
from vaest.stylize.clock import Clock
from vaest.stylize.methods import DEFAULT_METHOD, require_method, stylize_latents
from vaest.stylize.stabilize import FlowStabilizer
from vaest.stylize.targets import TargetSchedule

STILL = Clock()  # an image's: no time
PIXEL_KEEP = 0.2  # --pixel_smoothing, the original's blend: out = 0.2 * last + 0.8 * current


def require_finite(values: np.ndarray, what: str) -> np.ndarray:
    """Refuse NaN or infinite values, which would decode to black frames, before any output."""
    if not np.all(np.isfinite(values)):
        raise UserError(
            f"{what} is not finite (NaN or infinite): the export is damaged or the weights "
            "diverged; nothing was written"
        )
    return values


class Stylizer:
    """Fitted frames in, stylized frames out (float [0, 1] at model size); keeps the smoothing
    state between calls, so one Stylizer serves one stream of frames in order."""

    def __init__(
        self,
        exported,
        shift: Shift,
        *,
        smoothing=0.0,
        pixel_smoothing=False,
        refine=True,
        detail=1.0,
        method=DEFAULT_METHOD,
        stabilizer: FlowStabilizer | None = None,
        schedule: TargetSchedule | None = None,
        clock: Clock = STILL,
    ):
        """stabilizer: blends each output with the previous one along the input's motion.
        schedule: c_target by frame time (a timeline), replacing shift.target, at the frames'
        times on the clock."""
        require_method(exported, method)
        self.exported = exported
        self.shift = shift
        self.schedule = None if schedule is None or schedule.constant else schedule
        self.smoothing = float(smoothing)
        self.pixel_smoothing = pixel_smoothing
        self.refine = refine
        self.detail = float(detail)
        self.method = method
        self.stabilizer = stabilizer
        self.clock = clock
        self._frames = 0  # frames seen, for their times
        self._latent = None  # last smoothed latent
        self._picture = None  # last output, for the pixel blend

    @classmethod
    def for_plan(cls, plan, exported, source):
        """The Stylizer of a vaest.stylize.plan.Plan, shifting from c_source `source`. A video's
        is smoothed and stabilised as asked and follows the timeline; an image takes the first
        target."""
        s = plan.settings
        a, b = plan.source_weight, plan.target_weight
        shift = Shift(source, plan.schedule.at(plan.clock.start)[0], a, b)
        if not plan.video:
            return cls(exported, shift, refine=s.refine, detail=s.detail, method=plan.method)
        return cls(
            exported,
            shift,
            smoothing=plan.latent_smoothing,
            pixel_smoothing=s.pixel_smoothing,
            refine=s.refine,
            detail=s.detail,
            method=plan.method,
            stabilizer=plan.stabilizer(),
            schedule=plan.schedule,
            clock=plan.clock,
        )

    @property
    def one_graph(self) -> bool:
        """Whether the exported stylize graph does the whole job."""
        return (
            self.method == "refine"
            and self.smoothing == 0
            and self.schedule is None
            and (self.refine or not self.exported.has_refiner)
        )

    def shift_at(self, times) -> Shift:
        """The shift for frames at these times (seconds of the input; None: the first target)."""
        if self.schedule is None or times is None:
            return self.shift
        a, b = self.shift.source_weight, self.shift.target_weight
        return Shift(self.shift.source, self.schedule.at(times), a, b)

    def latents(self, fitted: np.ndarray, means: np.ndarray | None = None, times=None):
        """The shifted latents z', smoothed over time when asked: z_t = s z_{t-1} + (1-s) z'_t.
        means: the frames' mu when already known (from the --source auto pass); times: the
        frames' times in seconds, for a timeline."""
        mean = self.exported.encode(fitted)[0] if means is None else means
        shifted = require_finite(
            self.shift_at(times).apply(mean).astype(np.float32), "the shifted latent z'"
        )
        if self.smoothing == 0:
            return shifted
        s = self.smoothing
        for i, row in enumerate(shifted):
            previous = row if self._latent is None else self._latent
            self._latent = shifted[i] = s * previous + (1.0 - s) * row
        return shifted

    def __call__(self, fitted: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
        times = self.clock.times(self._frames, len(fitted))
        self._frames += len(fitted)
        shift = self.shift
        if self.one_graph and means is None:
            # z' is made inside the graph: its inputs are checked here, its output below.
            require_finite(np.concatenate([shift.source, shift.target]), "a centroid")
            out = self.exported.stylize(
                fitted,
                shift.source,
                shift.target,
                shift.source_weight,
                shift.target_weight,
                self.detail,
            )
        else:
            if means is None:
                means = self.exported.encode(fitted)[0]
            shifted = self.latents(fitted, means, times)
            out = stylize_latents(
                self.exported,
                fitted,
                shifted,
                means,
                method=self.method,
                refine=self.refine,
                detail=self.detail,
            )
        require_finite(out, "the stylized frame")
        if self.pixel_smoothing:
            for i, picture in enumerate(out):
                if self._picture is not None:
                    out[i] = PIXEL_KEEP * self._picture + (1.0 - PIXEL_KEEP) * picture
                self._picture = out[i]
        if self.stabilizer is not None:
            for i, (frame, picture) in enumerate(zip(fitted, out, strict=True)):
                out[i] = self.stabilizer(frame, picture)
        return out
