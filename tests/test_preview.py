"""Step 2, preview_tiles: one contact sheet per domain and split, showing the real records."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_video
from PIL import Image

from vaest.data import extract, preview, records, sources
from vaest.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]
SIZE = (36, 64)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, photos) -> Path:
    """A small extraction: 10 video frames and 2 paintings x 6 records, 30% held out."""
    root = tmp_path_factory.mktemp("preview")
    clip = make_video(root / "clip.mp4", frames=100, size="128x72")
    art = root / "art"
    art.mkdir()
    for name in ("coffee", "rocket"):
        Image.fromarray(photos[name]).save(art / f"{name}.png")
    options = sources.Options(image_size=SIZE, tiles_per_painting=5, val_fraction=0.3)
    plans = sources.plan_domains([f"clip={clip}"], [f"art={art}"], options)
    extract.extract(plans, options, root / "run")
    return root / "run"


def first_records(data: Path, split: str) -> dict[str, np.ndarray]:
    """The first record of each domain in a split, through the training reader."""
    first = {}
    for record in records.read_records(data, split).as_numpy_iterator():
        first.setdefault(record["domain_name"].decode(), record["image"])
    return first


def test_evenly_spaced_picks_spread_over_the_records():
    assert preview.evenly_spaced(3, 8) == {0, 1, 2}
    spread = preview.evenly_spaced(100, 8)
    assert len(spread) == 8 and min(spread) == 0 and max(spread) == 99
    assert preview.evenly_spaced(0, 8) == set()


def test_one_sheet_per_domain_and_split_showing_the_records(run_dir, tmp_path):
    data = RunDir(run_dir).data
    manifest = records.load_manifest(data)
    max_tiles = 8
    sheets = preview.make_sheets(data, max_tiles=max_tiles, out_dir=tmp_path)
    wanted = {
        preview.sheet_name(d.name, split)
        for d in manifest.domains
        for split in records.SPLITS
        if d.counts[split] > 0
    }
    assert len(wanted) == 4  # both domains have records in both splits
    assert {p.name for p in sheets} == wanted == {p.name for p in tmp_path.iterdir()}

    th, tw = SIZE  # records this small are shown at their own size
    gap, title = preview.GAP, preview.TITLE_HEIGHT
    for split in records.SPLITS:
        first = first_records(data, split)
        for domain in manifest.domains:
            shown = min(domain.counts[split], max_tiles)
            cols = min(preview.COLUMNS, shown)
            rows = math.ceil(shown / cols)
            sheet = np.asarray(Image.open(tmp_path / preview.sheet_name(domain.name, split)))
            assert sheet.shape[0] == title + gap + rows * (th + gap)
            assert sheet.shape[1] >= gap + cols * (tw + gap)
            # The first thumbnail is the domain's first record, pixel for pixel.
            top, left = title + gap, gap
            thumb = sheet[top : top + th, left : left + tw]
            np.testing.assert_array_equal(thumb, first[domain.name])
            # Not blank: the grid varies, and the title strip has dark text on white.
            assert sheet[title:].std() > 20
            strip = sheet[:title]
            assert (strip == 255).mean() > 0.5 and (strip < 100).any()


def test_a_sheet_shrinks_large_records_to_thumbnails(tmp_path):
    images = [np.full((180, 320, 3), i * 40, np.uint8) for i in range(5)]
    sheet = preview.contact_sheet(images, "big, val: 5 records", preview.thumb_size((180, 320)))
    th, tw = preview.thumb_size((180, 320))
    assert (th, tw) == (90, 160)
    assert sheet.shape == (preview.TITLE_HEIGHT + 2 + th + 2, 2 + 5 * (tw + 2), 3)
    left = 2 + 3 * (tw + 2)
    assert (sheet[preview.TITLE_HEIGHT + 2 + 10, left + 10] == 120).all()


def run_script(*args, cwd) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "preview_tiles.py"), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cli_writes_sheets_into_the_data_folder(run_dir):
    result = run_script(f"--run_dir={run_dir}", "--max_tiles=4", cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (run_dir / "data" / "preview").iterdir())
    assert names == ["art-train.png", "art-val.png", "clip-train.png", "clip-val.png"]


def test_cli_without_data_names_the_step_that_makes_it(tmp_path):
    result = run_script("--run_dir=nothing_here", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "extract_tiles.py" in result.stderr
    assert not (tmp_path / "nothing_here").exists()
