"""Step 7's settings worked out once, against the export: what every later step reads.

A Settings holds what the user typed; a Plan holds what it means for this job and this export:
the shift's weights a and b, the schedule of c_target, the stabilisations, the batch size, and
for a video its geometry and exact frame rate. The runners, the source pass, the stylizer and the
record read the plan, never the raw strings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from absl import logging

from vaest.device import GPU_BATCH
from vaest.io.video import exact_rate
from vaest.io.video_out import require_encodable
from vaest.stylize.compose import Composer
from vaest.stylize.geometry import Geometry, picture_geometry
from vaest.stylize.job import Job
from vaest.stylize.methods import resolve_method
from vaest.stylize.settings import BATCH_SIZE, Settings
from vaest.stylize.target_video import StyleFrames, StyleLatents
from vaest.stylize.targets import TargetSchedule, target_schedule


@dataclass(frozen=True)
class Plan:
    """One job's settings, resolved against the export."""

    job: Job
    source_weight: float  # a of z' = mu - a c_source + b c_target
    target_weight: float  # b
    schedule: TargetSchedule  # c_target over the input's time (or a style video's StyleLatents)
    temporal: frozenset[str]  # the stabilisations: flow, latent, both or none
    latent_smoothing: float  # s of the latent moving average; 0 = off
    batch_size: int  # frames per model call
    geometry: Geometry | None = None  # videos: how frames go in and out of the model
    rate: Fraction | None = None  # videos: the exact frame rate of input and output
    method_reason: str = "asked for"  # why --method resolved as it did (auto's verdict)

    @property
    def settings(self) -> Settings:
        return self.job.settings

    def describe_shift(self) -> str:
        return (
            f"z' = mu - {self.source_weight:g} * c_source ({self.settings.source}) + "
            f"{self.target_weight:g} * c_target ({self.schedule.label})"
        )


def make_plan(job: Job, exported) -> Plan:
    """The plan of a checked job (vaest.stylize.job.make_job) on a loaded export; its settings
    name the method that --method auto means on this export."""
    s = job.settings
    method, why = resolve_method(s.method, exported, s.refine)
    if s.method != method:
        logging.info("--method %s is %s here: %s", s.method, method, why)
    s = replace(s, method=method)
    job = replace(job, settings=s)
    (a, b), temporal, smoothing = s.resolved()
    batch_size = s.batch_size or (GPU_BATCH if "GPU" in (exported.device or "") else BATCH_SIZE)
    if s.method == "optimize" and not s.batch_size:
        batch_size = 1  # optimised one frame after another: the bar shows seconds per frame
    geometry = rate = None
    if job.kind == "video":
        geometry = picture_geometry(s, job.info.display_size, exported)
        if job.output_kind == "video":
            require_encodable(Composer(geometry, s).output_size, job.output)
        rate = exact_rate(job.info.fps)
    schedule = target_schedule(exported, s.target, s.transition)
    if s.target_video:
        frames = StyleFrames(s.target_video, exported.image_size)
        schedule = StyleLatents(exported, frames, s.transition)
    logging.info(
        "model on %s in %s, %d frames per call, --method %s",
        exported.device, exported.precision, batch_size, s.method,
    )  # fmt: skip
    return Plan(job, a, b, schedule, temporal, smoothing, batch_size, geometry, rate, why)
