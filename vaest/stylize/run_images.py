"""Step 7 for an image or a folder of images: each picture at its own size, in order.

Images have no time: a timeline gives them its first target. Each picture has its own way in
and out of the model (the plan's framing at its size), and goes to the plan's output.
"""

from __future__ import annotations

import time

import numpy as np

from vaest.stylize.job import Result
from vaest.stylize.streaming import batches, prefetch


def run_images(plan, stylizer, bar) -> Result:
    """Stylize a vaest.stylize.plan.Plan's image or folder with `stylizer` (and the plan's
    painter's stage, when it paints)."""

    def loaded():
        for name, image in plan.pictures.named():
            geometry = plan.geometry_for(image.shape[:2])
            compose = plan.composer(geometry)
            yield name, compose, image, geometry.fit(image), geometry.thumbnail(image)

    def pictures(progress):
        for batch in batches(prefetch(loaded()), plan.batch_size):
            styled = stylizer(np.stack([item[3] for item in batch]))
            for (name, compose, image, fitted, thumbnail), picture in zip(
                batch, styled, strict=True
            ):
                yield name, compose(picture, fitted, thumbnail, image)
            progress.update(len(batch))

    start = time.perf_counter()
    with bar(total=plan.pictures.count, desc="stylize", unit="image") as progress:
        count = plan.output.write(pictures(progress))
    return Result(plan.output.path, count, time.perf_counter() - start)
