"""Step 2: contact sheets of the extracted records, one per domain and split, to check by eye."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vaest.data import records
from vaest.io import imaging
from vaest.io.atomic import require_writable
from vaest.run_dir import DATA_PREVIEW

COLUMNS = 8
GAP = 2  # pixels between thumbnails and around the grid
TITLE_HEIGHT = 26
TITLE_PAD = 6
THUMB_MAX_WIDTH = 160  # larger records are shown shrunk, smaller ones at their own size
BACKGROUND = (40, 40, 40)


def sheet_name(domain: str, split: str) -> str:
    return f"{domain}-{split}.png"


def thumb_size(image_size: tuple[int, int]) -> tuple[int, int]:
    height, width = image_size
    scale = min(1.0, THUMB_MAX_WIDTH / width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def evenly_spaced(count: int, wanted: int) -> set[int]:
    """Positions of up to `wanted` items spread evenly over `count` items."""
    if count <= 0:
        return set()
    return {int(i) for i in np.linspace(0, count - 1, min(count, wanted)).round()}


def contact_sheet(images: list[np.ndarray], title: str, thumb: tuple[int, int]) -> np.ndarray:
    """A title strip over a grid of thumbnails, COLUMNS wide (fewer if there are fewer images)."""
    th, tw = thumb
    cols = max(1, min(COLUMNS, len(images)))
    rows = max(1, math.ceil(len(images) / cols))
    font = _font()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = math.ceil(measure.textlength(title, font=font))
    width = max(GAP + cols * (tw + GAP), text_width + 2 * TITLE_PAD)
    height = TITLE_HEIGHT + GAP + rows * (th + GAP)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    ImageDraw.Draw(sheet).rectangle((0, 0, width - 1, TITLE_HEIGHT - 1), fill=(255, 255, 255))
    ImageDraw.Draw(sheet).text((TITLE_PAD, 5), title, fill=(0, 0, 0), font=font)
    for i, image in enumerate(images):
        row, col = divmod(i, cols)
        tile = Image.fromarray(imaging.resize(image, th, tw))
        sheet.paste(tile, (GAP + col * (tw + GAP), TITLE_HEIGHT + GAP + row * (th + GAP)))
    return np.asarray(sheet)


def _font():
    try:
        return ImageFont.load_default(size=14)
    except (OSError, TypeError, ImportError):  # Pillow built without FreeType
        return ImageFont.load_default()


def make_sheets(
    data_dir: str | Path, max_tiles: int = 64, out_dir: str | Path | None = None, progress=None
) -> list[Path]:
    """Write one sheet per domain and split with records to out_dir (default data_dir/preview).

    Records are read with records.read_records, the reader training uses. progress, if given,
    is a tqdm-like object: update(1) per record read.
    """
    data_dir = Path(data_dir)
    manifest = records.load_manifest(data_dir)
    out_dir = Path(out_dir) if out_dir is not None else data_dir / DATA_PREVIEW
    require_writable(out_dir, "contact sheets")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with records.damage_reported(data_dir):
            return _write_sheets(data_dir, manifest, max_tiles, out_dir, progress)
    except BaseException:
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise


def _write_sheets(data_dir, manifest, max_tiles, out_dir, progress) -> list[Path]:
    thumb = thumb_size(manifest.image_size)
    written = []
    for split in records.SPLITS:
        wanted = {d.id: evenly_spaced(d.counts.get(split, 0), max_tiles) for d in manifest.domains}
        if not any(wanted.values()):
            continue
        seen = dict.fromkeys(wanted, 0)
        chosen: dict[int, list[np.ndarray]] = {d: [] for d in wanted}
        for record in records.read_records(data_dir, split, manifest).as_numpy_iterator():
            domain_id = int(record["domain_id"])
            if seen.get(domain_id, -1) in wanted.get(domain_id, ()):
                chosen[domain_id].append(record["image"])
            seen[domain_id] = seen.get(domain_id, 0) + 1
            if progress is not None:
                progress.update(1)
        for domain in manifest.domains:
            if not chosen[domain.id]:
                continue
            count = domain.counts.get(split, 0)
            noun = "record" if count == 1 else "records"
            title = f"{domain.name} ({domain.kind}), {split}: {count} {noun}"
            if len(chosen[domain.id]) < count:
                title += f", {len(chosen[domain.id])} shown"
            path = out_dir / sheet_name(domain.name, split)
            imaging.save_image(contact_sheet(chosen[domain.id], title, thumb), path)
            written.append(path)
    return written
