"""Step 7: paint a painting domain's look onto a video, an image or a folder of images.

Each frame is fitted to the model size, encoded to its latent mean mu, shifted (vaest.latent),
decoded, refined and put back at the output size, as a plan says (vaest.stylize.plan, made once
from the settings and the export, with the painter's stage when it paints). Videos stream through
vaest.stylize.run_video; images and folders go through vaest.stylize.run_images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from absl import logging
from tqdm import tqdm

from vaest.stylize.job import Result
from vaest.stylize.plan import Plan
from vaest.stylize.run_images import run_images
from vaest.stylize.run_video import run_video
from vaest.stylize.source import choose_source
from vaest.stylize.stylizer import Stylizer


def run(plan: Plan, exported, progress: Callable | None = None) -> Result:
    """Stylize the plan's input into its output. progress: a tqdm-like factory for bars."""
    bar = progress or _no_bar
    source, means = choose_source(plan, exported, bar)
    logging.info("shift: %s", plan.describe_shift())
    stylizer = Stylizer.for_plan(plan, exported, np.asarray(source, np.float32))
    if plan.optimize is not None:
        from vaest.stylize.optimize.method import OptimizeMethod  # TensorFlow's VGG, when used

        stylizer = OptimizeMethod.for_plan(plan, exported, stylizer)
    if plan.video:
        return run_video(plan, stylizer, bar, means)
    return run_images(plan, stylizer, bar)


def _no_bar(**kwargs):
    return tqdm(disable=True, **kwargs)
