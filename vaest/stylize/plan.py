"""Step 7's settings worked out once, against the export: what every later step reads.

A Settings holds what the user typed; a Plan holds what it means for this job and this export:
the method (--method auto resolved), the shift's weights a and b, the schedule of c_target (or
the style video's), the stabilisations and the flow blend, the batch size, the stream clock, the
painter's stage when it paints, optimize's choices when it optimises, for a video its geometry
and exact frame rate; and the job's two ends, the input's pictures and the output they go to.
The runners, the source pass and the stylizer read the plan, never the job, and nothing after
it parses a flag again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from absl import logging

from vaest.device import GPU_BATCH
from vaest.io.video_out import require_encodable
from vaest.measure.painter_gate import painter_verdict
from vaest.stylize.clock import Clock
from vaest.stylize.compose import Composer
from vaest.stylize.geometry import Framing, Geometry
from vaest.stylize.job import Job
from vaest.stylize.methods import AUTO, DEFAULT_METHOD
from vaest.stylize.optimize.choices import OptimizeChoices
from vaest.stylize.output import Output
from vaest.stylize.paint import PaintStage
from vaest.stylize.pictures import Pictures
from vaest.stylize.settings import BATCH_SIZE, Settings, settings_record
from vaest.stylize.stabilize import FlowStabilizer
from vaest.stylize.style_video import StyleFrames, StyleLatents
from vaest.stylize.targets import TargetSchedule, target_schedule


@dataclass(frozen=True)
class Plan:
    """One job's settings, resolved against the export."""

    job: Job  # its settings name the method used, for the output's record
    method: str  # one of vaest.stylize.methods.METHODS: --method auto resolved
    source_weight: float  # a of z' = mu - a c_source + b c_target
    target_weight: float  # b
    schedule: TargetSchedule  # c_target over the input's time (or a style video's StyleLatents)
    temporal: frozenset[str]  # the stabilisations: flow, latent, both or none
    latent_smoothing: float  # s of the latent moving average; 0 = off
    batch_size: int  # frames per model call
    clock: Clock  # each frame's time (an image's is 0 s)
    flow_blend: float | None = None  # w of the flow stabiliser; None: no flow stabiliser runs
    geometry: Geometry | None = None  # videos: how frames go in and out of the model
    paint: PaintStage | None = None  # --method paint: the painter at the paint resolution
    optimize: OptimizeChoices | None = None  # --method optimize's flags, resolved
    style: StyleFrames | None = None  # --target_video's frames, one reader for every stage
    method_reason: str = "asked for"  # why --method resolved as it did (auto's verdict)
    framing: Framing | None = None  # every picture's way in and out of the model, by its size
    pictures: Pictures | None = None  # the input's pictures at full size, in order
    output: Output | None = None  # where the output pictures go
    measure_temporal: bool = False  # videos: the flow-warped error of the output is measured

    @property
    def settings(self) -> Settings:
        return self.job.settings

    @property
    def video(self) -> bool:
        return self.job.kind == "video"

    @property
    def rate(self) -> Fraction | None:
        """Videos: the exact frame rate of input and output (the job's)."""
        return self.job.rate

    def describe_shift(self) -> str:
        return (
            f"z' = mu - {self.source_weight:g} * c_source ({self.settings.source}) + "
            f"{self.target_weight:g} * c_target ({self.schedule.label})"
        )

    def geometry_for(self, source_size) -> Geometry:
        """A picture's way in and out of the model: a video's frames all share one."""
        return self.geometry or self.framing.geometry(source_size)

    def composer(self, geometry: Geometry) -> Composer:
        """How the model's pictures become output pictures, for pictures of this geometry."""
        return Composer(geometry, self.settings, self.method, self.paint)

    def stabilizer(self) -> FlowStabilizer | None:
        """A new flow stabiliser for one stream of frames, when one runs."""
        return None if self.flow_blend is None else FlowStabilizer(self.flow_blend)


def make_plan(job: Job, exported) -> Plan:
    """The plan of a checked job (vaest.stylize.job.make_job) on a loaded export."""
    s = job.settings
    method, why = resolve_method(s.method, exported, s.refine)
    if s.method != method:
        logging.info("--method %s is %s here: %s", s.method, method, why)
    job = replace(job, settings=replace(s, method=method))
    (a, b), temporal, smoothing = s.resolved()
    optimize = s.optimize_choices() if method == "optimize" else None
    batch_size = s.batch_size or (GPU_BATCH if "GPU" in (exported.device or "") else BATCH_SIZE)
    if method == "optimize" and not s.batch_size:
        batch_size = 1  # optimised one frame after another: the bar shows seconds per frame
    video = job.kind == "video"
    if not video and (s.smoothing or s.measure_temporal):
        logging.info("--smoothing and --measure_temporal apply to videos only")
    framing = Framing.of(s, exported)
    geometry = size = None
    clock = Clock()
    if video:
        geometry = framing.geometry(job.info.display_size)
        size = Composer(geometry, s, method).output_size
        if job.output_kind == "video":
            require_encodable(size, job.output)
        clock = Clock(s.start, float(job.rate))
    schedule = target_schedule(exported, s.target, s.transition)
    if s.target_video:
        schedule = StyleLatents.of_video(exported, s.target_video, s.transition)
    # Stabilised at the model size (the flicker is made there, and the flow is cheapest there),
    # and the painter's strokes at the paint resolution; optimize has its own temporal term.
    steady = video and "flow" in temporal and method != "optimize"
    plan = Plan(
        job, method, a, b, schedule, temporal, smoothing, batch_size, clock,
        flow_blend=s.flow_blend if steady else None, geometry=geometry,
        optimize=optimize, style=schedule.frames if s.target_video else None,
        method_reason=why, framing=framing, pictures=Pictures(job),
        measure_temporal=video and s.measure_temporal,
    )  # fmt: skip
    if method == "paint":
        paint = PaintStage(exported, schedule, clock, plan.stabilizer())
        if video:  # before any work: an image's size is checked when it is painted
            paint.require_memory(*geometry.placement[2:])
        plan = replace(plan, paint=paint)
    # The record names the settings as resolved here, for an MP4's comment tag.
    comment = settings_record(plan, exported) if job.output_kind == "video" else None
    plan = replace(plan, output=Output(job, size, comment))
    logging.info(
        "model on %s in %s, %d frames per call, --method %s",
        exported.device, exported.precision, batch_size, method,
    )  # fmt: skip
    return plan


def resolve_method(method: str, exported, refine: bool = True) -> tuple[str, str]:
    """(the method that --method `method` means on this export, why). AUTO is the painter's
    paint when the export has one (and the refiner is on) whose held-out figures beat
    residual's (vaest.measure.painter_gate), else DEFAULT_METHOD; any other is itself."""
    if method != AUTO:
        return method, "asked for"
    if not exported.has_painter:
        return DEFAULT_METHOD, "the export has no painter"
    if not refine:
        return DEFAULT_METHOD, "--no_refine leaves the painter's colour guide out"
    paints, why = painter_verdict(exported.painter_figures)
    return ("paint" if paints else DEFAULT_METHOD), why
