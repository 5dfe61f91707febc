"""The third hostile try-out, step 7: a style video with the painter, a still image of any size
as the style, the paintings optimize reads, tiny outputs, damaged shards and export.json, and
a style path that is a FIFO or a folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_video, stylize

from vaest.errors import UserError
from vaest.io import imaging
from vaest.io.video import iter_frames
from vaest.stylize.settings import Settings


@pytest.fixture(scope="module")
def run_dir(tiny_run, tmp_path_factory) -> Path:
    """A copy of the shared export: RUN/out is written here, not into the shared run."""
    folder = tmp_path_factory.mktemp("hostile-stylize")
    shutil.copytree(tiny_run / "export", folder / "export")
    return folder


@pytest.fixture(scope="module")
def exported(run_dir):
    from vaest.export.read import Exported

    return Exported.from_run(run_dir)


@pytest.fixture(scope="module")
def painter(exported_painter):
    from vaest.export.read import Exported

    return Exported.from_run(exported_painter)


# --- a still image as the style, at any size ----------------------------------------------------


def test_a_still_image_of_any_size_is_one_target(exported, run_dir, tmp_path, photos):
    from vaest.stylize.style_video import StyleFrames

    still = tmp_path / "style.png"
    imaging.save_image(photos["coffee"][::3, ::5], still)  # 134x128: not the model's 36x64
    frames = StyleFrames(still)
    assert frames.at(0.0, (20, 30)).shape == frames.at(2.5, (20, 30)).shape == (20, 30, 3)
    assert frames.at(0.0, (8, 12)).shape == (8, 12, 3)  # one reader serves every size
    clip = make_video(tmp_path / "in.mp4", frames=4, size="64x36", fps=10)
    result = stylize(exported, run_dir, clip, tmp_path / "out.mp4", target_video=str(still))
    assert result.frames == 4
    assert len(list(iter_frames(result.path))) == 4


# --- a FIFO or a folder as --target_video --------------------------------------------------------


def test_a_fifo_or_a_folder_as_the_style_is_named_for_what_it_is(tmp_path):
    fifo = tmp_path / "style.mp4"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file .*FIFO") as caught:
        Settings(target_video=str(fifo)).check()
    assert "no such file" not in str(caught.value)
    with pytest.raises(UserError, match="is a folder") as caught:
        Settings(target_video=str(tmp_path)).check()
    assert "no such file" not in str(caught.value)
    with pytest.raises(UserError, match="no such file"):
        Settings(target_video=str(tmp_path / "missing.mp4")).check()


# --- --target_video with the painter -------------------------------------------------------------


def test_a_style_video_is_painted_by_the_painter(painter, exported_painter, tmp_path):
    """--method paint with a style video: residual's picture toward the style frames is the
    colour guide, the painter paints it."""
    style = make_video(tmp_path / "style.mp4", frames=3, size="64x36", fps=10, source="mandelbrot")
    clip = make_video(tmp_path / "in.mp4", frames=4, size="64x36", fps=10)
    painted = stylize(
        painter, exported_painter, clip, tmp_path / "paint.mp4", target_video=str(style),
        method="paint",
    )  # fmt: skip
    assert painted.frames == 4
    residual = stylize(
        painter, exported_painter, clip, tmp_path / "residual.mp4", target_video=str(style),
        method="residual",
    )  # fmt: skip
    a, b = (np.stack(list(iter_frames(r.path))).astype(int) for r in (painted, residual))
    assert a.shape == b.shape == (4, 36, 64, 3)
    assert np.abs(a - b).mean() > 2  # painted, not the guide


class TwoDomains:
    """An export stand-in with painter domains a and b, whose encoder gives one latent."""

    has_painter = True
    painter_domains = ["a", "b"]
    image_size = (8, 8)

    def __init__(self, latent):
        from vaest.export.read import DomainLatents

        centroids = {"a": np.array([1.0, 0.0, 2.0]), "b": np.array([0.0, 3.0, 1.0])}
        self.domains = {n: DomainLatents(n, "painting", c, c * 0, 1) for n, c in centroids.items()}
        self.latent = np.asarray(latent, np.float32)
        self.encoded = 0

    def encode(self, images):
        self.encoded += len(images)
        return np.tile(self.latent, (len(images), 1)), None


def test_the_painters_blend_is_the_mix_nearest_to_the_style_frame(tmp_path, photos):
    from vaest.stylize.style_video import StyleFrames, StyleLatents

    still = tmp_path / "style.png"
    imaging.save_image(photos["rocket"][::8, ::8], still)
    mixed = TwoDomains(0.25 * np.array([1.0, 0.0, 2.0]) + 0.75 * np.array([0.0, 3.0, 1.0]))
    latents = StyleLatents(mixed, StyleFrames(still), transition=0.0)
    latents.at([0.0, 0.1, 0.2])
    assert latents.names == ["a", "b"]
    np.testing.assert_allclose(latents.weights_at([0.1, 0.2]), [[0.25, 0.75]] * 2, atol=1e-4)
    assert mixed.encoded == 3  # read from what the stylizer computed, not encoded again
    # a latent beyond the centroids gets the nearest mix, weights still >= 0 summing to 1
    far = StyleLatents(TwoDomains([5.0, -1.0, 9.0]), StyleFrames(still), 0.0)
    weights = far.weights_at(0.0)
    assert np.all(weights >= 0) and np.isclose(weights.sum(), 1.0) and weights[0, 0] > 0.99


# --- the painter's stabiliser on tiny outputs ----------------------------------------------------


def test_the_flow_stabiliser_works_on_the_tiniest_frames():
    from vaest.stylize.stabilize import FlowStabilizer

    rng = np.random.default_rng(0)
    for height, width in ((1, 1), (2, 2), (8, 8), (10, 10), (5, 200)):
        stabilizer = FlowStabilizer()
        frames = rng.integers(0, 256, (3, height, width, 3), np.uint8)
        out = [stabilizer(f, f / 255.0) for f in frames]
        assert all(o.shape == (height, width, 3) and np.all(np.isfinite(o)) for o in out)


def test_the_painter_paints_a_two_pixel_output(painter, exported_painter, tmp_path):
    clip = make_video(tmp_path / "in.mp4", frames=3, size="10x10", fps=10)
    result = stylize(
        painter, exported_painter, clip, tmp_path / "out.mp4", output_size="2x2", method="paint"
    )
    assert result.frames == 3
    assert np.stack(list(iter_frames(result.path))).shape == (3, 2, 2, 3)


# --- the paintings --method optimize reads ------------------------------------------------------


def stand_in(exported, run: Path, sources: list[str], trusted: bool):
    """The export as painting_tiles sees it, in `run`, its manifest naming `sources` for art."""
    import dataclasses
    from types import SimpleNamespace

    domains = [
        dataclasses.replace(d, sources=sources) if d.name == "art" else d
        for d in exported.manifest.domains
    ]
    manifest = dataclasses.replace(exported.manifest, domains=domains)
    return SimpleNamespace(folder=run / "export", manifest=manifest, trusted=trusted)


def test_optimize_reads_paintings_from_the_run_and_outside_it_only_if_trusted(
    exported, run_dir, tmp_path, photos, monkeypatch, caplog
):
    from vaest.export.read import Exported
    from vaest.stylize.optimize import textures

    run = tmp_path / "run"
    (run / "paintings").mkdir(parents=True)
    imaging.save_image(photos["coffee"], run / "paintings" / "kept.png")
    outside = tmp_path / "elsewhere" / "secret.png"
    outside.parent.mkdir()
    imaging.save_image(photos["rocket"], outside)
    here = tmp_path / "here"  # the current folder: one image planted under a missing name
    (here / "paintings").mkdir(parents=True)
    imaging.save_image(photos["chelsea"], here / "paintings" / "gone.png")
    monkeypatch.chdir(here)
    sources = ["paintings/kept.png", "paintings/gone.png", str(outside)]
    read = []
    load_image = imaging.load_image
    monkeypatch.setattr(imaging, "load_image", lambda p, *a: read.append(Path(p)) or load_image(p))

    assert exported.trusted is False  # Exported.from_run without --trust_export
    untrusted = stand_in(exported, run, sources, exported.trusted)
    tiles = textures.painting_tiles(untrusted, "art", (16, 16), count=2)
    assert tiles.shape[1:] == (16, 16, 3)
    assert read == [(run / "paintings" / "kept.png").resolve()]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("outside" in w and "--trust_export" in w and "secret.png" in w for w in warnings)
    assert any("1 of the 2 paintings of art are missing" in w for w in warnings), warnings
    assert all("\n" not in w for w in warnings)

    trusted = Exported.from_run(run_dir, trust=True)
    assert trusted.trusted is True
    paths = textures.painting_paths(stand_in(trusted, run, sources, trusted.trusted), "art")
    assert paths == [(run / "paintings" / "kept.png").resolve(), outside.resolve()]


# --- a damaged shard in optimize's tile fallback -------------------------------------------------


def test_a_damaged_shard_in_the_tile_fallback_is_one_line_naming_it(exported, tiny_run, tmp_path):
    from vaest.data.records import load_manifest
    from vaest.stylize.optimize.textures import painting_tiles

    run = tmp_path / "run"
    shutil.copytree(tiny_run / "data", run / "data")
    for name in load_manifest(run / "data").shards["train"]:
        shard = run / "data" / name
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    gone = stand_in(exported, run, [str(tmp_path / "gone.png")], trusted=False)
    with pytest.raises(UserError, match=r"train-\d+\.tfrecord\.gz.*damaged") as caught:
        painting_tiles(gone, "art", (16, 16))
    assert "\n" not in str(caught.value)


# --- a damaged export.json -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, field",
    [
        ({"painter_domains": "art"}, "painter_domains"),
        ({"painter_domains": ["art", "more"]}, "painter_domains"),
        ({"painter_domains": [3]}, "painter_domains"),
        ({"painter_domains": ["still"]}, "painter_domains"),
        ({"image_size": ["36", "sixty-four"]}, "image_size"),
        ({"image_size": [18, 32]}, "image_size"),
        ({"latent_dim": 16.5}, "latent_dim"),
        ({"has_painter": "yes"}, "has_painter"),
        ({"painter_guide": 1}, "painter_guide"),
        ({"vae_step": "many"}, "vae_step"),
    ],
)
def test_a_damaged_export_json_is_one_line_naming_the_field(
    exported_painter, tmp_path, edit, field
):
    import json

    from vaest.export.read import Exported

    folder = tmp_path / "export"
    shutil.copytree(exported_painter / "export", folder)
    info = json.loads((folder / "export.json").read_text())
    (folder / "export.json").write_text(json.dumps(info | edit))
    with pytest.raises(UserError, match=field) as caught:
        Exported(folder)
    assert "export.json" in str(caught.value) and "\n" not in str(caught.value)


def test_export_json_that_is_not_an_object_is_one_line(exported_painter, tmp_path):
    from vaest.export.read import Exported

    folder = tmp_path / "export"
    shutil.copytree(exported_painter / "export", folder)
    (folder / "export.json").write_text("[1, 2]\n")
    with pytest.raises(UserError, match="export.json: it holds a list"):
        Exported(folder)
