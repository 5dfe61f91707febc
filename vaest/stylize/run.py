"""Step 7: paint a painting domain's look onto a video, an image or a folder of images.

Each frame is fitted to the model size, encoded to its latent mean mu, shifted (vaest.latent),
decoded, refined and put back at the output size, as a plan says (vaest.stylize.plan, made once
from the settings and the export). Videos stream through vaest.stylize.run_video; images and
folders go through vaest.stylize.run_images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from absl import logging
from tqdm import tqdm

from vaest.stylize.job import Result
from vaest.stylize.paint import PaintStage
from vaest.stylize.plan import Plan
from vaest.stylize.run_images import run_images
from vaest.stylize.run_video import run_video
from vaest.stylize.source import choose_source
from vaest.stylize.stabilize import FlowStabilizer
from vaest.stylize.stylizer import Stylizer


def run(plan: Plan, exported, progress: Callable | None = None) -> Result:
    """Stylize the plan's input into its output. progress: a tqdm-like factory for bars."""
    bar = progress or _no_bar
    source, means = choose_source(plan, exported, bar)
    logging.info("shift: %s", plan.describe_shift())
    video = plan.job.kind == "video"
    if not video and (plan.settings.smoothing or plan.settings.measure_temporal):
        logging.info("--smoothing and --measure_temporal apply to videos only")
    # Stabilised at the model size: the flicker is made there, and the flow is cheapest there.
    # optimize has its own temporal term, along the same flow
    steady = video and "flow" in plan.temporal and plan.settings.method != "optimize"
    stabilizer = FlowStabilizer(plan.settings.temporal_weight) if steady else None
    source = np.asarray(source, np.float32)
    stylizer = Stylizer.for_plan(plan, exported, source, stabilizer)
    if plan.settings.method == "optimize":
        from vaest.stylize.optimize_method import OptimizeMethod  # TensorFlow's VGG, when used

        stylizer = OptimizeMethod.for_plan(plan, exported, stylizer)
    paint = None
    if plan.settings.method == "paint":  # the painter, at the paint resolution
        clock = (plan.settings.start, float(plan.rate)) if video else (0.0, 1.0)
        steady_paint = FlowStabilizer(plan.settings.temporal_weight) if steady else None
        paint = PaintStage(exported, plan.schedule, clock, steady_paint)
        if video:  # before the first frame: an image's size is checked when it is painted
            paint.require_memory(*plan.geometry.placement[2:])
    plan.job.output.parent.mkdir(parents=True, exist_ok=True)
    if video:
        return run_video(plan, exported, stylizer, bar, means, paint=paint)
    return run_images(plan, exported, stylizer, bar, paint=paint)


def _no_bar(**kwargs):
    return tqdm(disable=True, **kwargs)
