"""Step 1, extract_tiles: counts, pixels, the split, image modes, bad input, atomic output."""

from __future__ import annotations

import json
import logging
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import FFMPEG, make_video
from PIL import Image

from vaest.data import extract, records, sources
from vaest.errors import UserError
from vaest.io import video
from vaest.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def run_extract(run_dir, videos=(), paintings=(), overwrite=False, progress=None, **options):
    options = sources.Options(**options)
    plans = sources.plan_domains(list(videos), list(paintings), options)
    return extract.extract(plans, options, run_dir, overwrite=overwrite, progress=progress)


def read_all(run_dir) -> list[dict]:
    """Every record of both splits, read with the reader training uses, with its split."""
    data = RunDir(run_dir).data
    out = []
    for split in records.SPLITS:
        for record in records.read_records(data, split).as_numpy_iterator():
            record = {k: v.decode() if isinstance(v, bytes) else v for k, v in record.items()}
            out.append(dict(record, split=split))
    return out


def leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir()) if run_dir.exists() else []


def png_bytes(width, height, bit_depth=8, color_type=2, rows: bytes | None = None) -> bytes:
    """A PNG written by hand: exotic bit depths, or a header with no pixel data at all."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    body = chunk(b"IDAT", zlib.compress(rows)) if rows is not None else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + body + chunk(b"IEND", b"")


def rgb16_png(pixel: tuple[int, int, int], size: int = 16) -> bytes:
    row = b"\x00" + np.array(pixel * size, ">u2").tobytes()  # filter byte 0, then big-endian
    return png_bytes(size, size, 16, 2, row * size)


# --- videos --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stride, expected", [(10, list(range(0, 100, 10))), (7, list(range(0, 99, 7)))]
)
def test_exact_stride_and_pixel_exact_frames(tmp_path, clip, stride, expected):
    # at the clip's own size, so the records can be compared with the frames pixel for pixel
    manifest = run_extract(
        tmp_path / "run", [f"clip={clip}"], frame_stride=stride, image_size=(180, 320)
    )
    assert len(expected) == (10 if stride == 10 else 15)
    assert manifest.count("train") + manifest.count("val") == len(expected)
    got = sorted(read_all(tmp_path / "run"), key=lambda r: r["index"])
    assert [r["index"] for r in got] == expected
    # Each record is exactly the decoded frame of its index: no off-by-one, lossless round trip.
    frames = {i: f for i, f in enumerate(video.iter_frames(clip)) if i in expected}
    for record in got:
        np.testing.assert_array_equal(record["image"], frames[record["index"]])
        assert record["source"] == str(clip) and record["domain_name"] == "clip"
    domain = manifest.domain("clip")
    assert domain.kind == "video" and domain.fps == pytest.approx(25.0)
    assert manifest.options["frame_stride"] == stride


def test_crop_margins_and_fit_modes(tmp_path, clip):
    frame0 = next(video.iter_frames(clip))
    crop = (10, 0, 20, 40)  # top, left, bottom, right; a zero margin is allowed
    manifest = run_extract(
        tmp_path / "run", [f"clip={clip}"], frame_stride=50, crop=crop, image_size=(75, 140),
        fit="stretch", val_fraction=0.0,
    )  # fmt: skip
    first = min(read_all(tmp_path / "run"), key=lambda r: r["index"])
    expected = np.asarray(
        Image.fromarray(frame0[10:160, 0:280]).resize((140, 75), Image.Resampling.BOX)
    )
    np.testing.assert_array_equal(first["image"], expected)
    assert manifest.options["crop"] == list(crop) and manifest.options["fit"] == "stretch"


# --- paintings -----------------------------------------------------------------------------------


def test_painting_round_trip_and_tiles(tmp_path, photos):
    folder = tmp_path / "art" / "nested"
    folder.mkdir(parents=True)
    Image.fromarray(photos["astronaut"]).save(folder / "astronaut.png")
    manifest = run_extract(
        tmp_path / "run", paintings=[f"art={tmp_path / 'art'}"], image_size=(512, 512),
        tiles_per_painting=6, val_fraction=0.0,
    )  # fmt: skip
    got = sorted(read_all(tmp_path / "run"), key=lambda r: r["index"])
    assert [r["index"] for r in got] == list(range(7))
    np.testing.assert_array_equal(got[0]["image"], photos["astronaut"])  # whole, pixel-exact
    tiles = [r["image"] for r in got[1:]]
    assert all(t.shape == (512, 512, 3) for t in tiles)
    assert len({t.tobytes() for t in tiles}) == 6  # six different crops
    assert manifest.domain("art").sources == [str(folder / "astronaut.png")]
    assert manifest.domain("art").counts == {"train": 7, "val": 0}


def test_tile_boxes_keep_the_aspect_and_span_the_scales():
    rng = np.random.default_rng(0)
    boxes = extract.tile_boxes((300, 1000), (180, 320), 400, rng)
    largest_h = 300  # the painting is wider than 180:320, so the largest box is full height
    for top, left, h, w in boxes:
        assert 0 <= top and top + h <= 300 and 0 <= left and left + w <= 1000
        assert abs(h / w - 180 / 320) < 0.01
    sides = np.array([h for _, _, h, _ in boxes]) / largest_h
    assert sides.min() < 0.3 and sides.max() > 0.95 and sides.min() >= 0.25 - 1e-9


def test_tiles_follow_the_seed(tmp_path, photos):
    Image.fromarray(photos["coffee"]).save(tmp_path / "coffee.png")
    common = dict(paintings=[f"art={tmp_path / 'coffee.png'}"], image_size=(36, 64))
    run_extract(tmp_path / "a", tiles_per_painting=4, seed=1, **common)
    run_extract(tmp_path / "b", tiles_per_painting=4, seed=1, **common)
    run_extract(tmp_path / "c", tiles_per_painting=4, seed=2, **common)

    def tiles(run):
        return {r["index"]: r["image"].tobytes() for r in read_all(tmp_path / run)}

    assert tiles("a") == tiles("b")
    assert tiles("a")[0] == tiles("c")[0] and tiles("a") != tiles("c")


def make_mode_zoo(folder: Path) -> dict[str, tuple[np.ndarray, int]]:
    """One small file per awkward kind of image, with the RGB it must come out as (and a
    tolerance for lossy formats)."""
    folder.mkdir(parents=True, exist_ok=True)
    expect = {}

    def solid(color):
        return np.broadcast_to(np.array(color, np.uint8), (16, 16, 3))

    Image.new("L", (16, 16), 100).save(folder / "gray.png")
    expect["gray.png"] = (solid((100, 100, 100)), 0)

    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:, :8] = (0, 0, 255, 0)  # fully transparent: white once composited
    rgba[:, 8:] = (0, 128, 0, 255)
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    want = np.zeros((16, 16, 3), np.uint8)
    want[:, :8], want[:, 8:] = 255, (0, 128, 0)
    expect["rgba.png"] = (want, 0)

    palette = Image.new("P", (16, 16), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30])
    palette.save(folder / "palette.png")
    expect["palette.png"] = (solid((10, 200, 30)), 0)
    palette.paste(0, (0, 0, 8, 16))  # the left half in the transparent colour
    palette.save(folder / "palette_alpha.png", transparency=0)
    want = np.zeros((16, 16, 3), np.uint8)
    want[:, :8], want[:, 8:] = 255, (10, 200, 30)
    expect["palette_alpha.png"] = (want, 0)

    gray16 = np.full((16, 16), 1000, np.uint16)  # dark: 1000 / 65535 of full scale
    gray16[8:] = 65535
    Image.fromarray(gray16).save(folder / "gray16.png")
    want = np.zeros((16, 16, 3), np.uint8)
    want[:8], want[8:] = 4, 255
    expect["gray16.png"] = (want, 0)
    # All values below 256: still 16-bit, so near black, not read as 8-bit levels.
    Image.fromarray(np.full((16, 16), 200, np.uint16)).save(folder / "gray16_dark.png")
    expect["gray16_dark.png"] = (solid((1, 1, 1)), 0)

    (folder / "rgb16.png").write_bytes(rgb16_png((65535, 32896, 0)))
    expect["rgb16.png"] = (solid((255, 128, 0)), 0)

    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(folder / "cmyk.jpg", quality=95)
    expect["cmyk.jpg"] = (solid((255, 0, 0)), 6)

    # Stored with red on the left; EXIF orientation 6 says "rotate 90 degrees clockwise to
    # view", which brings red to the top.
    stored = np.zeros((16, 16, 3), np.uint8)
    stored[:, :8], stored[:, 8:] = (255, 0, 0), (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(folder / "exif6.jpg", quality=95, subsampling=0, exif=exif)
    want = np.zeros((16, 16, 3), np.uint8)
    want[:8], want[8:] = (255, 0, 0), (0, 0, 255)
    expect["exif6.jpg"] = (want, 12)

    for name, color in [("plain.bmp", (1, 2, 3)), ("plain.tif", (4, 5, 6))]:
        Image.new("RGB", (16, 16), color).save(folder / name)
        expect[name] = (solid(color), 0)
    Image.new("RGB", (16, 16), (7, 8, 9)).save(folder / "plain.webp", lossless=True)
    expect["plain.webp"] = (solid((7, 8, 9)), 0)
    return expect


def test_every_image_mode_comes_out_as_correct_rgb(tmp_path):
    expect = make_mode_zoo(tmp_path / "zoo")
    run_extract(
        tmp_path / "run", paintings=[f"zoo={tmp_path / 'zoo'}"], image_size=(16, 16),
        tiles_per_painting=0,
    )  # fmt: skip
    got = {Path(r["source"]).name: r["image"] for r in read_all(tmp_path / "run")}
    assert sorted(got) == sorted(expect)
    for name, (want, tolerance) in expect.items():
        diff = np.abs(got[name].astype(int) - want.astype(int))
        assert diff.max() <= tolerance, name


# --- the split -----------------------------------------------------------------------------------


def test_split_is_stable_and_follows_the_hash(tmp_path, clip, photos):
    Image.fromarray(photos["chelsea"]).save(tmp_path / "chelsea.png")
    args = dict(
        videos=[f"clip={clip}"], paintings=[f"cat={tmp_path / 'chelsea.png'}"],
        frame_stride=2, tiles_per_painting=20, image_size=(36, 64), val_fraction=0.2,
    )  # fmt: skip
    first = run_extract(tmp_path / "a", **args)
    second = run_extract(tmp_path / "b", **args)
    assert first.to_json() == second.to_json()

    def splits(run):
        return {(r["domain_name"], r["index"]): r["split"] for r in read_all(tmp_path / run)}

    assert splits("a") == splits("b")
    for (domain, index), split in splits("a").items():
        name = clip.name if domain == "clip" else "chelsea.png"
        assert split == records.split_of(f"{domain}:{name}:{index}", 0.2)
    assert 0 < first.count("val") < first.count("train")


def test_every_domain_of_two_or_more_records_gets_a_val_record(tmp_path, photos):
    # 5 records whose split hashes are all above the fraction: none would land in val.
    Image.fromarray(photos["rocket"]).save(tmp_path / "rocket.png")
    keys = [f"art:rocket.png:{i}" for i in range(5)]
    fraction = min(records.split_hash(k) for k in keys) / 2
    assert all(records.split_of(k, fraction) == "train" for k in keys)
    common = dict(paintings=[f"art={tmp_path / 'rocket.png'}"], image_size=(36, 64))
    manifest = run_extract(tmp_path / "a", tiles_per_painting=4, val_fraction=fraction, **common)
    assert manifest.domain("art").counts == {"train": 4, "val": 1}
    val = [r for r in read_all(tmp_path / "a") if r["split"] == "val"]
    assert [f"art:rocket.png:{val[0]['index']}"] == [min(keys, key=records.split_hash)]
    # With no validation asked for, or a single record, nothing moves.
    zero = run_extract(tmp_path / "b", tiles_per_painting=4, val_fraction=0.0, **common)
    assert zero.domain("art").counts == {"train": 5, "val": 0} and zero.shards["val"] == []
    one = run_extract(tmp_path / "c", tiles_per_painting=0, val_fraction=fraction, **common)
    assert one.domain("art").counts == {"train": 1, "val": 0}


def test_shards_rotate_and_the_manifest_lists_them(tmp_path, clip):
    manifest = run_extract(
        tmp_path / "run", [f"clip={clip}"], frame_stride=4, shard_size=10, val_fraction=0.0,
        image_size=(36, 64),
    )  # fmt: skip
    assert manifest.shards["train"] == [f"train-{n:05d}.tfrecord.gz" for n in range(3)]
    data = RunDir(tmp_path / "run").data
    on_disk = sorted(p.name for p in data.iterdir())
    assert on_disk == sorted(manifest.shards["train"] + ["manifest.json"])
    assert records.load_manifest(data).to_json() == manifest.to_json()
    assert len(read_all(tmp_path / "run")) == 25


def test_jpeg_records_decode_close_to_the_frame(tmp_path, clip):
    run_extract(
        tmp_path / "run", [f"clip={clip}"], frame_stride=100, image_format="jpeg",
        image_size=(180, 320),
    )  # fmt: skip
    (record,) = read_all(tmp_path / "run")
    frame = next(video.iter_frames(clip)).astype(int)
    assert np.abs(record["image"].astype(int) - frame).mean() < 4


# --- bad input, in-process -----------------------------------------------------------------------


@pytest.fixture
def audio_only(tmp_path) -> Path:
    path = tmp_path / "sine.m4a"
    cmd = [FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1", str(path)]
    subprocess.run(cmd, check=True)
    return path


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path, clip, audio_only):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("not an image")
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    cases = [
        (dict(videos=[f"v={tmp_path / 'missing.mp4'}"]), "missing.mp4"),
        (dict(videos=[f"v={text}"]), "text.mp4"),
        (dict(videos=[f"v={audio_only}"]), "sine.m4a"),
        (dict(paintings=[f"p={empty}"]), "empty"),
        (dict(paintings=[f"p={tmp_path / 'nowhere'}"]), "nowhere"),
        (dict(paintings=[f"p={tmp_path / 'nowhere' / '*.png'}"]), "nowhere"),
        (dict(videos=[f"v={clip}"], paintings=[f"v={empty}"]), "duplicate domain name v"),
        (dict(videos=[f"v={clip}"], crop=(90, 0, 90, 0)), "removes the whole"),
        (dict(videos=[f"{clip}"]), "NAME=PATH"),
        (dict(videos=[f"a b={clip}"]), "domain name"),
        (dict(), "nothing to extract"),
    ]
    for kwargs, message in cases:
        run_dir = tmp_path / "run"
        with pytest.raises(UserError, match=message):
            run_extract(run_dir, **kwargs)
        assert not run_dir.exists()


@pytest.mark.parametrize(
    "parse, text",
    [
        (sources.parse_image_size, "180by320"),
        (sources.parse_image_size, "1x320"),
        (sources.parse_image_size, "180x"),
        (sources.parse_crop, "1,2,3"),
        (sources.parse_crop, "a,b,c,d"),
        (sources.parse_crop, "0,-1,0,0"),
    ],
)
def test_malformed_size_and_crop(parse, text):
    with pytest.raises(UserError, match=text):
        parse(text)


def test_good_size_and_crop_parse():
    assert sources.parse_image_size("72x128") == (72, 128)
    assert sources.parse_crop("0,5, 0,7") == (0, 5, 0, 7)
    assert sources.parse_crop("") == (0, 0, 0, 0)


def test_corrupt_images_are_skipped_but_an_empty_domain_fails(tmp_path, photos, caplog):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir(), bad.mkdir()
    Image.fromarray(photos["coffee"]).save(good / "coffee.png")
    whole = (good / "coffee.png").read_bytes()
    (good / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (bad / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (bad / "garbage.jpg").write_bytes(b"\xff\xd8 this is no jpeg")
    with caplog.at_level(logging.WARNING):
        manifest = run_extract(tmp_path / "run", paintings=[f"art={good}"], image_size=(36, 64))
    assert manifest.domain("art").sources == [str(good / "coffee.png")]
    assert manifest.domain("art").counts["train"] + manifest.domain("art").counts["val"] == 33
    assert any("truncated.png" in r.getMessage() for r in caplog.records)

    run_dir = tmp_path / "run2"
    with pytest.raises(UserError, match=re.escape(f"{bad}: none of the 2 image")):
        run_extract(run_dir, paintings=[f"art={bad}"], image_size=(36, 64))
    assert leftovers(run_dir) == []


def test_tiny_images_are_upscaled_with_a_warning(tmp_path, caplog):
    Image.new("RGB", (6, 5), (200, 10, 10)).save(tmp_path / "tiny.png")
    with caplog.at_level(logging.WARNING):
        run_extract(tmp_path / "run", paintings=[f"t={tmp_path / 'tiny.png'}"], image_size=(36, 64))
    assert any(
        "tiny.png" in r.getMessage() and "upscaling" in r.getMessage() for r in caplog.records
    )
    images = [r["image"] for r in read_all(tmp_path / "run")]
    assert len(images) == 33 and all(i.shape == (36, 64, 3) for i in images)
    assert all(np.abs(i.astype(int) - (200, 10, 10)).max() <= 1 for i in images)


def test_decompression_bombs_are_refused(tmp_path, photos):
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    Image.fromarray(photos["coffee"]).save(bombs / "a_fine.png")
    (bombs / "b_huge.png").write_bytes(png_bytes(12_000, 12_000))  # a header, no pixels
    run_dir = tmp_path / "run"
    with pytest.raises(UserError, match="b_huge.png.*decompression bomb"):
        run_extract(run_dir, paintings=[f"art={bombs}"], image_size=(36, 64))
    assert leftovers(run_dir) == []
    # A lower limit refuses a real, ordinary image the same way.
    with pytest.raises(UserError, match="a_fine.png.*decompression bomb"):
        run_extract(run_dir, paintings=[f"art={bombs / 'a_fine.png'}"], max_pixels=10_000)
    assert leftovers(run_dir) == []


# --- atomic output -------------------------------------------------------------------------------


def test_existing_data_is_kept_unless_overwrite_and_an_interrupt_leaves_it_whole(tmp_path, clip):
    run_dir = tmp_path / "run"
    run_extract(run_dir, [f"clip={clip}"], frame_stride=50, image_size=(36, 64))
    manifest_path = RunDir(run_dir).data / "manifest.json"
    before = manifest_path.read_text()
    with pytest.raises(UserError, match="--overwrite"):
        run_extract(run_dir, [f"clip={clip}"], frame_stride=25, image_size=(36, 64))

    class Interrupt:
        def __init__(self):
            self.done = 0

        def set_description(self, text):
            pass

        def update(self, n):
            self.done += n
            if self.done == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_extract(
            run_dir, [f"clip={clip}"], frame_stride=5, image_size=(36, 64), overwrite=True,
            progress=Interrupt(),
        )  # fmt: skip
    assert manifest_path.read_text() == before
    assert leftovers(run_dir) == ["data"]

    after = run_extract(
        run_dir, [f"clip={clip}"], frame_stride=25, image_size=(36, 64), overwrite=True
    )
    assert json.loads(manifest_path.read_text())["options"]["frame_stride"] == 25
    assert after.count("train") + after.count("val") == 4
    assert leftovers(run_dir) == ["data"]


# --- the command line (each run is a separate process) -------------------------------------------


def run_script(*args, cwd) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "extract_tiles.py"), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_one_line_error(result, *names):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0]
    for name in names:
        assert name in errors[0]


def test_cli_writes_records_and_a_summary(tmp_path, photos):
    make_video(tmp_path / "clip.mp4", frames=30, size="128x72")
    art = tmp_path / "art" / "deep"
    art.mkdir(parents=True)
    Image.fromarray(photos["chelsea"]).save(art / "chelsea.jpg")
    Image.fromarray(photos["rocket"]).save(tmp_path / "art" / "rocket.webp")
    result = run_script(
        "--run_dir=run", "--paintings=art=art", "--video=clip=clip.mp4", "--image_size=36x64",
        "--frame_stride=3", "--tiles_per_painting=4", "--crop=0,0,0,0", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = records.load_manifest(tmp_path / "run" / "data")
    # Ids follow the flags: the videos first, then the paintings.
    assert [(d.id, d.name, d.kind) for d in manifest.domains] == [
        (0, "clip", "video"),
        (1, "art", "painting"),
    ]
    assert sum(manifest.domain("clip").counts.values()) == 10
    assert sum(manifest.domain("art").counts.values()) == 10
    assert manifest.image_size == (36, 64)
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["clip", "video"] for line in lines)
    art_row = next(line.split() for line in lines if line.startswith("art "))
    assert art_row[2:4] == [str(manifest.domain("art").counts[s]) for s in ("train", "val")]

    again = run_script("--run_dir=run", "--video=clip=clip.mp4", cwd=tmp_path)
    assert_one_line_error(again, "run/data", "--overwrite")
    assert again.stderr.count("\n") == 1  # refused before TensorFlow is even loaded


@pytest.mark.parametrize(
    "args, names",
    [
        (["--video=v=missing.mp4"], ["missing.mp4"]),
        (["--video=v=sine.m4a"], ["sine.m4a"]),
        (["--paintings=p=empty"], ["empty"]),
        (["--video=v=clip.mp4", "--paintings=v=empty"], ["duplicate", "v"]),
        (["--video=v=clip.mp4", "--image_size=180by320"], ["180by320"]),
        (["--video=v=clip.mp4", "--crop=1,2,3"], ["1,2,3"]),
        (["--video=v=clip.mp4", "--crop=0,200,0,200"], ["clip.mp4", "removes the whole"]),
    ],
)
def test_cli_bad_input_gives_one_line(tmp_path, audio_only, args, names):
    make_video(tmp_path / "clip.mp4", frames=2, size="320x180")
    (tmp_path / "empty").mkdir()
    result = run_script("--run_dir=run", *args, cwd=tmp_path)
    assert_one_line_error(result, *names)
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_cli_bomb_fails_whole_and_leaves_nothing(tmp_path, photos):
    art = tmp_path / "art"
    art.mkdir()
    Image.fromarray(photos["coffee"]).save(art / "a.png")
    (art / "bomb.png").write_bytes(png_bytes(30_000, 30_000))
    result = run_script("--run_dir=run", "--paintings=art=art", "--image_size=36x64", cwd=tmp_path)
    assert_one_line_error(result, "bomb.png", "decompression bomb")
    assert not (tmp_path / "run").exists()
