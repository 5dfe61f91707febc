"""The painter's data at the paint resolution, kept in RUN/data/paint beside the model-size tiles.

- frames/<video domain>/NNNNNN.png: consecutive frames fitted to the paint size (the painter
  trains on random crops of them, and on pairs of consecutive ones for its temporal term);
- paintings/<painting domain>/<name>.png: each painting scaled to cover the paint size, so its
  strokes have the scale they have when the painting fills an output frame of that size;
- paint.json: the paint size and the domains, in the order above.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaest.data.extract import frame_image
from vaest.data.sources import PAINT_SIDE, VIDEO, DomainPlan, Options
from vaest.errors import UserError
from vaest.io import imaging, video
from vaest.io.atomic import staged_folder
from vaest.run_dir import PAINT_DATA, PAINT_FRAMES, PAINT_INFO, PAINT_PAINTINGS, RunDir
from vaest.upsample import paint_resolution


@dataclass(frozen=True)
class PaintData:
    """What RUN/data/paint holds: float32 [0, 1] arrays, read whole (a few hundred frames)."""

    size: tuple[int, int]  # (height, width) of the paint resolution
    frames: dict[str, np.ndarray]  # video domain -> [N, H, W, 3], consecutive
    paintings: dict[str, list[np.ndarray]]  # painting domain -> scaled paintings


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image scaled (aspect kept) to the smallest size that covers `size`."""
    scale = max(size[0] / image.shape[0], size[1] / image.shape[1])
    height = max(size[0], round(image.shape[0] * scale))
    width = max(size[1], round(image.shape[1] * scale))
    return imaging.resize(image, height, width)


def extract_paint_data(
    plans: list[DomainPlan],
    run_dir: str | Path,
    size: tuple[int, int],
    options: Options | None = None,
    max_frames: int = 600,
) -> Path:
    """Write RUN/data/paint for the extraction plans (vaest.data.sources.plan_domains): the
    first `max_frames` frames of every video at `size` (cut and fitted as `options` says, as
    the model-size frames are), and every painting covering it."""
    fitting = dataclasses.replace(options or Options(), image_size=tuple(size))
    if min(size) < PAINT_SIDE:
        raise UserError(
            f"the paint size must be at least {PAINT_SIDE} a side, not {size[0]}x{size[1]}"
        )
    folder = RunDir(run_dir).data / PAINT_DATA
    info = {"size": list(size), "videos": [], "paintings": []}
    with staged_folder(folder) as tmp:
        for plan in plans:
            name = plan.domain.name
            if plan.domain.kind == VIDEO:
                out = tmp / PAINT_FRAMES / name
                out.mkdir(parents=True)
                frames = video.iter_frames(plan.sources[0].path)
                try:
                    for index, frame in enumerate(frames):
                        if index >= max_frames:
                            break
                        imaging.save_image(frame_image(frame, fitting), out / f"{index:06d}.png")
                except video.VideoError as err:
                    raise UserError(str(err)) from None
                finally:
                    frames.close()
                info["videos"].append(name)
            else:
                out = tmp / PAINT_PAINTINGS / name
                out.mkdir(parents=True)
                for index, source in enumerate(plan.sources):
                    painting = imaging.load_image(source.path)
                    imaging.save_image(cover(painting, size), out / f"{index:04d}.png")
                info["paintings"].append(name)
        (tmp / PAINT_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return folder


def paint_info(run_dir: str | Path) -> dict:
    """RUN/data/paint's paint.json, with "frames": each video's frame count, read without the
    images (what their memory is checked on); or a UserError saying how to make it."""
    folder = RunDir(run_dir).data / PAINT_DATA
    if not (folder / PAINT_INFO).exists():
        raise UserError(
            f"the painter trains on {folder}, which is missing: extract again with "
            "`python extract_tiles.py ... --paint_data_size HxW`"
        )
    info = json.loads((folder / PAINT_INFO).read_text())
    frames = folder / PAINT_FRAMES
    info["frames"] = {name: len(list((frames / name).glob("*.png"))) for name in info["videos"]}
    return info


def load_paint_data(run_dir: str | Path, brush: float = 1.0) -> PaintData:
    """RUN/data/paint at 1/brush of its size (frames and paintings alike, so that the
    paintings' strokes keep their size relative to the frame), or a UserError saying how to
    make it."""
    folder = RunDir(run_dir).data / PAINT_DATA
    info = paint_info(run_dir)
    size = paint_resolution(*info["size"], brush)

    def scaled(image: np.ndarray) -> np.ndarray:
        # paintings cover the paint size: each keeps its own aspect
        return imaging.resize(image, *paint_resolution(*image.shape[:2], brush))

    def images(path: Path) -> list[np.ndarray]:
        return [imaging.as_float_images(scaled(imaging.load_image(p)))
                for p in sorted(path.glob("*.png"))]  # fmt: skip

    frames = {name: np.stack(images(folder / PAINT_FRAMES / name)) for name in info["videos"]}
    paintings = {name: images(folder / PAINT_PAINTINGS / name) for name in info["paintings"]}
    if not any(len(f) > 1 for f in frames.values()) or not paintings:
        raise UserError(f"{folder} needs a video of 2 frames or more and a painting domain")
    return PaintData(size, frames, paintings)
