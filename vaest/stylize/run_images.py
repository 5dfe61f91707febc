"""Step 7 for an image or a folder of images: each picture at its own size, in order.

Images have no time: a timeline gives them its first target. A folder's pictures keep their
relative names under a temporary folder, renamed into place once all are written.
"""

from __future__ import annotations

import time

import numpy as np

from vaest.io import imaging
from vaest.io.atomic import staged_folder
from vaest.stylize.compose import Composer
from vaest.stylize.geometry import picture_geometry
from vaest.stylize.job import Result
from vaest.stylize.streaming import batches, prefetch


def run_images(plan, exported, stylizer, bar) -> Result:
    """Stylize a vaest.stylize.plan.Plan's image or folder with `stylizer` (and the plan's
    painter's stage, when it paints)."""
    job, settings, paint = plan.job, plan.settings, plan.paint
    paths = [job.input] if job.kind == "image" else job.images

    def loaded():
        for path in paths:
            image = imaging.load_image(path)
            geometry = picture_geometry(settings, image.shape[:2], exported)
            compose = Composer(geometry, settings, plan.method, paint)
            yield path, compose, image, geometry.fit(image), geometry.thumbnail(image)

    def pictures(progress):
        for batch in batches(prefetch(loaded()), plan.batch_size):
            styled = stylizer(np.stack([item[3] for item in batch]))
            for (path, compose, image, fitted, thumbnail), picture in zip(
                batch, styled, strict=True
            ):
                yield path, compose(picture, fitted, thumbnail, image)
            progress.update(len(batch))

    start, count = time.perf_counter(), 0
    with bar(total=len(paths), desc="stylize", unit="image") as progress:
        if job.kind == "image":
            for _, picture in pictures(progress):
                imaging.save_image(picture, job.output)
                count += 1
        else:
            with staged_folder(job.output) as tmp:
                for path, picture in pictures(progress):
                    target = tmp / path.relative_to(job.input)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    imaging.write_image(picture, target)
                    count += 1
    return Result(job.output, count, time.perf_counter() - start)
