"""Step 1's plan: the domains named by --video and --paintings, their sources, and the options.

Domain ids follow the flags: every --video in the order given, then every --paintings. All of
it is checked before anything is read or written.
"""

from __future__ import annotations

import glob
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from absl import logging

from vaest.data import records
from vaest.errors import UserError
from vaest.io import imaging, video
from vaest.io.atomic import require_writable
from vaest.memory import image_bytes, require_memory
from vaest.run_dir import RunDir

VIDEO, PAINTING = "video", "painting"
IMAGE_FORMATS = ("png", "jpeg")
RESERVED_SOURCES = ("auto", "none")  # what mogrify's --source means besides a video domain


def size_text(size) -> str:
    return f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class Options:
    # (height, width). The model's change is upsampled along the frame's own edges to any
    # output size, so a small model loses no quality at equal training time and runs ~4x faster
    # than the original's 180x320 (bench/model_size.py, doc/benchmarks.md).
    image_size: tuple[int, int] = (72, 128)
    fit: str = "crop"
    crop: tuple[int, int, int, int] = (0, 0, 0, 0)  # pixels cut from top, left, bottom, right
    frame_stride: int = 10
    tiles_per_painting: int = 32
    flip_tiles: bool = True
    val_fraction: float = 0.05
    seed: int = 0
    shard_size: int = 2000
    image_format: str = "png"
    max_pixels: int = imaging.MAX_PIXELS

    def __post_init__(self):
        if self.fit not in imaging.FIT_MODES:
            raise UserError(f"--fit must be one of {', '.join(imaging.FIT_MODES)}, not {self.fit}")
        if self.image_format not in IMAGE_FORMATS:
            raise UserError(f"--image_format must be png or jpeg, not {self.image_format}")
        if self.frame_stride < 1 or self.shard_size < 1 or self.tiles_per_painting < 0:
            raise UserError(
                "--frame_stride and --shard_size must be >= 1, --tiles_per_painting >= 0"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise UserError(f"--val_fraction must be in [0, 1), not {self.val_fraction}")
        if min(self.crop) < 0:
            raise UserError(f"--crop margins must not be negative: {self.crop}")

    def to_manifest(self) -> dict:
        options = asdict(self)
        del options["image_size"]  # recorded at the top level of the manifest
        options["crop"] = list(self.crop)
        return options


PAINT_SIDE = 32  # the painter's smallest training crop
# The paint frames are fitted to the paint size as the frames to the model size: an aspect this
# far from the video's keeps a slice of each frame, enlarged (a WIDTHxHEIGHT typed for HxW).
PAINT_ASPECT_REFUSED = 1.5
PAINT_ASPECT_WARNED = 1.1


def parse_image_size(text: str) -> tuple[int, int]:
    """HEIGHTxWIDTH, two even sides (what the VAE's stride-2 layers need), that fit in memory."""
    try:
        size = imaging.parse_size(text)
    except ValueError:
        size = None
    if size is None or any(side % 2 for side in size):
        raise UserError(
            f"--image_size {text}: must be HEIGHTxWIDTH, two even sides of at least 2, e.g. 180x320"
        )
    # Each record is fitted through float32 copies of the image at this size.
    require_memory(image_bytes(*size, copies=2), f"--image_size {text}", "choose a smaller size")
    return size


def parse_paint_data_size(text: str) -> tuple[int, int]:
    """--paint_data_size HEIGHTxWIDTH, each side at least PAINT_SIDE, that fits in memory."""
    try:
        size = imaging.parse_size(text)
    except ValueError:
        size = None
    if size is None or min(size) < PAINT_SIDE:
        raise UserError(
            f"--paint_data_size {text}: must be HEIGHTxWIDTH, two sides of at least {PAINT_SIDE}, "
            "e.g. 360x640"
        )
    require_memory(
        image_bytes(*size, copies=2), f"--paint_data_size {text}", "choose a smaller size"
    )
    return size


def require_paint_aspect(plans: list[DomainPlan], size: tuple[int, int], text: str) -> None:
    """Refuse a --paint_data_size whose shape is far from a video's frames (a landscape clip given a
    portrait size, most likely WIDTHxHEIGHT typed for HEIGHTxWIDTH); warn when it is off."""
    for plan in plans:
        if plan.frame_size is None:
            continue
        (fh, fw), (ph, pw) = plan.frame_size, size
        off = max(fw / fh, pw / ph) / min(fw / fh, pw / ph)
        if off < PAINT_ASPECT_WARNED:
            continue
        shape = f"{plan.given}'s frames are {size_text(plan.frame_size)} (HxW)"
        if off < PAINT_ASPECT_REFUSED:
            logging.warning(
                "--paint_data_size %s (HxW): %s; the paint frames crop them", text, shape
            )
            continue
        long = max(size)
        like = (round(long * fh / fw), long) if fw >= fh else (long, round(long * fw / fh))
        raise UserError(
            f"--paint_data_size {text} is HEIGHTxWIDTH ({ph} high, {pw} wide), but {shape}: the "
            f"paint frames would be a slice of them, enlarged; give HEIGHTxWIDTH of the video's "
            f"shape, e.g. {size_text(like)} (mogrify's --output_size is WIDTHxHEIGHT)"
        )


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """'T,L,B,R' pixel margins -> a tuple; '' means no crop."""
    if not text.strip():
        return (0, 0, 0, 0)
    try:
        margins = tuple(int(part) for part in text.split(","))
    except ValueError:
        margins = ()
    if len(margins) != 4 or min(margins) < 0:
        raise UserError(f"--crop {text}: must be four margins TOP,LEFT,BOTTOM,RIGHT, each >= 0")
    return margins


@dataclass
class Source:
    path: Path
    name: str  # relative to the domain's folder: the stable part of the split key


@dataclass
class DomainPlan:
    domain: records.Domain
    given: str  # the path or pattern as the user typed it
    sources: list[Source]
    estimated_records: int
    problems: list[str] = field(default_factory=list)  # images skipped, and why
    frame_size: tuple[int, int] | None = None  # a video's (height, width), its --crop cut


def _split_flag(text: str, flag: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
        raise UserError(f"--{flag} {text}: must be NAME=PATH")
    if name.startswith(".") or not all(c.isalnum() or c in "_-." for c in name):
        raise UserError(f"--{flag} {text}: a domain name may use only letters, digits, _ - .")
    return name, path


def plan_domains(videos: list[str], paintings: list[str], options: Options) -> list[DomainPlan]:
    """Check every input before anything is written. Ids: videos first, then paintings."""
    flags = [(text, VIDEO) for text in videos] + [(text, PAINTING) for text in paintings]
    if not flags:
        raise UserError("nothing to extract: give --video NAME=PATH and/or --paintings NAME=DIR")
    plans: list[DomainPlan] = []
    for text, kind in flags:
        name, path = _split_flag(text, "video" if kind == VIDEO else "paintings")
        if any(plan.domain.name == name for plan in plans):
            raise UserError(f"duplicate domain name {name}: every domain needs its own name")
        if kind == VIDEO and name in RESERVED_SOURCES:
            raise UserError(
                f"--video {text}: a video domain cannot be named {name}: mogrify's --source reads "
                f"{' and '.join(RESERVED_SOURCES)} as its own choices"
            )
        domain = records.Domain(id=len(plans), name=name, kind=kind)
        if kind == VIDEO:
            plans.append(_plan_video(domain, path, options))
        else:
            plans.append(_plan_paintings(domain, path, options))
    return plans


def _plan_video(domain: records.Domain, path: str, options: Options) -> DomainPlan:
    file = Path(path)
    if not file.exists():
        raise UserError(f"video not found: {file}")
    if file.is_dir():
        raise UserError(f"{file}: is a folder, not a video file")
    try:
        info = video.probe(file)
    except video.VideoError as err:
        raise UserError(str(err)) from None
    top, left, bottom, right = options.crop
    height, width = info.height - top - bottom, info.width - left - right
    if height < 1 or width < 1:
        raise UserError(
            f"{file}: --crop {','.join(map(str, options.crop))} removes the whole "
            f"{size_text(info.size)} (HxW) frame"
        )
    if height < options.image_size[0] or width < options.image_size[1]:
        logging.warning(
            "%s: frames of %s (HxW) are smaller than the %s tile size; upscaling them",
            file, size_text((height, width)), size_text(options.image_size),
        )  # fmt: skip
    domain.fps = info.fps
    domain.sources = [str(file)]
    estimate = math.ceil(info.estimated_frames / options.frame_stride)
    plan = DomainPlan(domain, path, [Source(file, file.name)], estimate)
    plan.frame_size = (height, width)
    return plan


def _plan_paintings(domain: records.Domain, path: str, options: Options) -> DomainPlan:
    """A folder (searched recursively), a single image, or a glob pattern."""
    given = Path(path)
    if given.is_dir():
        root, files = given, imaging.find_images(given)
    elif given.is_file():
        root, files = given.parent, [given]
    elif glob.has_magic(path):
        root = _glob_root(path)
        matches = (Path(p) for p in glob.glob(path, recursive=True))
        files = sorted(
            p for p in matches if p.is_file() and p.suffix.lower() in imaging.IMAGE_SUFFIXES
        )
    else:
        raise UserError(f"paintings not found: {given}")
    if not files:
        suffixes = " ".join(imaging.IMAGE_SUFFIXES)
        raise UserError(f"{path}: no images found (looked for {suffixes})")
    sources = [Source(p, p.relative_to(root).as_posix()) for p in files]
    return DomainPlan(domain, path, sources, len(files) * (1 + options.tiles_per_painting))


def _glob_root(pattern: str) -> Path:
    """The folder part of a glob pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def check_output(run_dir: str | Path, overwrite: bool) -> None:
    """Refuse to replace a finished extraction unless asked to, or a folder that is not writable."""
    data = RunDir(run_dir).data
    require_writable(data, "records")
    if data.exists() and (not data.is_dir() or any(data.iterdir())) and not overwrite:
        raise UserError(f"{data} already holds data; pass --overwrite to replace it")
