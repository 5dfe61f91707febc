"""Step 6: evaluate_latents on the shared tiny run: figures, pictures and errors."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaest.colour import reinhard_transfer
from vaest.data.records import load_manifest, read_records
from vaest.errors import MissingStep
from vaest.evaluate import run as evaluate_run
from vaest.evaluate.passes import training_references
from vaest.evaluate.run import EvalSettings, evaluate
from vaest.evaluate.sheets import SheetLayout
from vaest.export.read import Exported
from vaest.io import video
from vaest.latent import Shift, choose_domain
from vaest.measure.style import style_figures
from vaest.stylize.methods import COMPARED_METHODS, stylize_by_method

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 3


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory) -> Path:
    """An evaluated copy of the tiny run holding only what evaluation may read: export and data."""
    run = tmp_path_factory.mktemp("evaluated") / "run"
    for part in ("export", "data"):
        shutil.copytree(tiny_run / part, run / part)
    evaluate(run, EvalSettings(frames=FRAMES))
    return run


@pytest.fixture(scope="module")
def held_out(evaluated) -> dict[str, list[dict]]:
    """The held-out records of each domain, in their stored order."""
    names = {d.id: d.name for d in load_manifest(evaluated / "data").domains}
    found = {name: [] for name in names.values()}
    for record in read_records(evaluated / "data", "val").as_numpy_iterator():
        found[names[int(record["domain_id"])]].append(record)
    return found


def finite_numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from finite_numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from finite_numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


def test_metrics_hold_every_figure_and_agree_with_the_model(evaluated, held_out):
    text = (evaluated / "eval" / "metrics.json").read_text()
    assert "null" not in text and "NaN" not in text and "Infinity" not in text
    found = json.loads(text)
    assert all(math.isfinite(x) for x in finite_numbers(found))
    assert (found["source"], found["target"]) == ("clip", "art")
    assert found["export"] == {
        "vae_step": 40, "refiner_step": 30, "has_refiner": True, "guide": "none",
        "image_size": [36, 64],
    }  # fmt: skip
    manifest = load_manifest(evaluated / "data")
    for domain in manifest.domains:
        counts = found["counts"][domain.name]
        assert counts == {**domain.counts, "centroid": sum(domain.counts.values())}
    assert found["latent_scatter"]["records"] == 90 and found["latent_scatter"]["stride"] == 1

    exported = Exported.from_run(evaluated)
    for name in ("clip", "art"):
        images = np.stack([r["image"] for r in held_out[name]]).astype(np.float32) / 255.0
        mean, log_variance = exported.encode(images)
        vae = exported.decode(mean)
        refined = exported.refine(vae)
        figures = found["heldout_reconstruction"][name]
        assert set(figures) == {"vae", "refined"}
        for output, pictures in (("vae", vae), ("refined", refined)):
            mse = np.mean((pictures - images) ** 2, axis=(1, 2, 3))
            assert figures[output]["psnr"] == pytest.approx(np.mean(-10 * np.log10(mse)), abs=1e-3)
            assert 0 < figures[output]["ssim"] < 1
        # The closed-form KL against TFP's.
        from vaest.models.vae import kl_to_prior

        kl = np.mean(kl_to_prior(mean, log_variance).numpy())
        assert found["heldout_kl"][name] == pytest.approx(kl, rel=1e-4)

    shift = found["shift"]
    c_clip, c_art = exported.domain("clip").centroid, exported.domain("art").centroid
    assert shift["centroid_distance"] == pytest.approx(np.linalg.norm(c_art - c_clip), rel=1e-5)
    clip_mu = exported.encode(np.stack([r["image"] for r in held_out["clip"]]))[0]
    art_mu = exported.encode(np.stack([r["image"] for r in held_out["art"]]))[0]
    # AUC by counting pairs: how often an art record projects further along the shift than a clip
    # record.
    s_clip, s_art = clip_mu @ (c_art - c_clip), art_mu @ (c_art - c_clip)
    pairs = (s_art[:, None] > s_clip[None, :]) + 0.5 * (s_art[:, None] == s_clip[None, :])
    assert 0.0 <= shift["heldout_auc"] <= 1.0
    assert shift["heldout_auc"] == pytest.approx(pairs.mean())
    assert shift["heldout_auc"] > 0.5  # the shift direction points from the clip to the art
    assert shift["heldout_auc_records"] == {"clip": len(clip_mu), "art": len(art_mu)}
    assert shift["heldout_frames"] == len(clip_mu) and shift["alpha"] == 1.0
    # z' = mu + (c_art - c_clip) lies as far from c_art as mu lies from c_clip.
    start = np.linalg.norm(clip_mu - c_art, axis=1).mean()
    moved = np.linalg.norm(clip_mu - c_clip, axis=1).mean()
    assert shift["input_distance_to_target"] == pytest.approx(start, rel=1e-4)
    assert shift["shifted_latent_distance_to_target"] == pytest.approx(moved, rel=1e-4)
    assert shift["shifted_latent_drop"] == pytest.approx(start - moved, rel=1e-4)
    stylized = exported.stylize(
        np.stack([r["image"] for r in held_out["clip"]]), c_clip, c_art, 1, 1
    )
    again = np.linalg.norm(exported.encode(stylized)[0] - c_art, axis=1).mean()
    assert shift["reencoded_output_distance_to_target"] == pytest.approx(again, rel=1e-3)
    assert shift["reencoded_output_drop"] == pytest.approx(start - again, rel=1e-3)


def sheet(path: Path, rows: int, cols: int, titles: bool):
    """The picture as RGB, after checking its size against the sheet layout of rows x cols."""
    layout = SheetLayout(rows, cols, (36, 64), titles)
    picture = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape[:2] == layout.size
    assert picture.std() > 20
    return picture, layout


def cell(picture, layout, row: int, col: int) -> np.ndarray:
    """The image shown in one cell, back at its own size (cells show it at an integer scale)."""
    top, left, h, w = layout.box(row, col)
    s = layout.scale
    return picture[top : top + h, left : left + w][s // 2 :: s, s // 2 :: s].astype(np.float32)


def test_pictures_show_what_they_say(evaluated, held_out):
    folder = evaluated / "eval"
    exported = Exported.from_run(evaluated)
    c_clip, c_art = exported.domain("clip").centroid, exported.domain("art").centroid
    clip, art = held_out["clip"], held_out["art"]
    assert len(clip) >= FRAMES and len(art) >= FRAMES

    # Per domain, rows of originals, VAE outputs and refined outputs; FRAMES columns spread
    # evenly over the held-out records.
    picture, layout = sheet(folder / "reconstructions.png", 2 * 3, FRAMES, False)
    assert np.array_equal(cell(picture, layout, 0, 0), clip[0]["image"])
    assert np.array_equal(cell(picture, layout, 0, FRAMES - 1), clip[-1]["image"])
    assert np.array_equal(cell(picture, layout, 3, FRAMES - 1), art[-1]["image"])
    refined = exported.refine(exported.decode(exported.encode(art[0]["image"][None])[0]))
    assert np.abs(cell(picture, layout, 5, 0) - refined[0] * 255).max() <= 1.01

    # One row per frame; the input, five strengths and the original's setting.
    picture, layout = sheet(folder / "shift_strengths.png", FRAMES, 1 + 5 + 1, True)
    frame = clip[0]["image"][None]
    assert np.array_equal(cell(picture, layout, 0, 0), frame[0])
    for col, (a, b) in ((1, (0, 0)), (4, (1, 1)), (6, (0.25, 0.5))):
        expected = exported.stylize(frame, c_clip, c_art, a, b)[0] * 255
        assert np.abs(cell(picture, layout, 0, col) - expected).max() <= 1.01
    assert np.abs(cell(picture, layout, 0, 5) - cell(picture, layout, 0, 1)).mean() > 2

    # slerp over lerp, from c_clip to c_art in 8 steps: both start and end at the centroids.
    picture, layout = sheet(folder / "interpolation.png", 2, 8, True)
    ends = exported.refine(exported.decode(np.stack([c_clip, c_art]))) * 255
    for row in (0, 1):
        assert np.abs(cell(picture, layout, row, 0) - ends[0]).max() <= 1.01
        assert np.abs(cell(picture, layout, row, 7) - ends[1]).max() <= 1.01

    picture = np.asarray(Image.open(folder / "latent_pca.png").convert("RGB"))
    assert picture.shape[:2] == (700, 900) and picture.std() > 20
    # Both domains are drawn in matplotlib's first two colours: solid centroid markers and
    # half-transparent points (over white).
    for colour in np.array([(31, 119, 180), (255, 127, 14)]):
        for shade, tolerance in ((colour, 60), (0.45 * colour + 0.55 * 255, 30)):
            assert (np.abs(picture.astype(int) - shade).sum(axis=-1) < tolerance).sum() > 80
    # One row per frame: the input, then each method at alpha = 1, then the Reinhard baseline.
    methods = COMPARED_METHODS
    picture, layout = sheet(folder / "methods.png", FRAMES, 2 + len(methods), True)
    styled = stylize_by_method(exported, frame, Shift.toward(c_clip, c_art, 1.0))
    for col, method in enumerate(methods, 1):
        assert np.abs(cell(picture, layout, 0, col) - styled[method][0] * 255).max() <= 1.01

    assert sorted(p.name for p in folder.iterdir()) == [
        "interpolation.png", "latent_pca.png", "methods.png", "metrics.json",
        "reconstructions.png", "shift_strengths.png",
    ]  # fmt: skip


def test_methods_are_scored_against_the_target_paintings(evaluated, held_out):
    """metrics.json's per-method figures equal style_figures on the held-out frames, and the
    texture figure is there when the HED weights are."""
    from vaest.measure import features, metrics

    found = json.loads((evaluated / "eval" / "metrics.json").read_text())["methods"]
    exported = Exported.from_run(evaluated)
    frames = np.stack([r["image"] for r in held_out["clip"]]).astype(np.float32) / 255.0
    art = np.stack([r["image"] for r in held_out["art"]]).astype(np.float32) / 255.0
    c_clip, c_art = exported.domain("clip").centroid, exported.domain("art").centroid
    weights = features.default_weights_path()
    texture = features.TextureFeatures(weights) if weights else None
    art_texture = features.texture_statistics(texture, art) if texture else None
    assert found["alpha"] == 1.0 and found["heldout_frames"] == len(frames)
    assert found["texture_weights"] == (str(weights) if weights else "none")
    styled = stylize_by_method(exported, frames, Shift.toward(c_clip, c_art, 1.0))
    manifest = load_manifest(evaluated / "data")
    references = training_references(evaluated / "data", manifest, "clip", "art", texture)
    styled["reinhard"] = reinhard_transfer(frames, references.target_lab)
    assert set(found) - {"alpha", "heldout_frames", "texture_weights"} == set(styled)
    assert not exported.has_painter and "paint" not in found  # tests/test_painter.py has one
    for method in styled:
        expected = style_figures(
            styled[method], frames, metrics.colour_statistics(art), texture, art_texture,
            references.classifier,
        )  # fmt: skip
        assert set(found[method]) == set(expected)
        if texture is not None:  # a number in [0, 1], or the reason there is none
            rate = found[method]["deception_rate"]
            assert 0.0 <= rate <= 1.0 if isinstance(rate, float) else rate.startswith("not sep")
        for name, value in expected.items():
            if isinstance(value, str):  # the deception figures' note, or why there are none
                assert found[method][name] == value, name
            else:
                assert found[method][name] == pytest.approx(value, rel=1e-3, abs=1e-4), name
    # The residual keeps the frame's own structure.
    assert found["residual"]["edge_correlation"] > found["refine"]["edge_correlation"]
    assert found["residual"]["edge_correlation"] > 0.8


def test_bad_target_is_a_one_line_error(evaluated):
    result = subprocess.run(
        [sys.executable, str(ROOT / "evaluate_latents.py"), f"--run_dir={evaluated}",
         "--target=clip"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --target clip is not a painting domain")
    assert "art" in result.stderr


def test_video_adds_each_methods_flicker_with_and_without_stabilisation(evaluated, tmp_path):
    from conftest import make_video

    from vaest.evaluate.flicker import temporal_figures_by_method
    from vaest.export.read import Exported
    from vaest.flow import RATIO_EPSILON, temporal_figures

    clip = make_video(tmp_path / "clip.mp4", frames=12, size="128x72", source="mandelbrot")
    exported = Exported.from_run(evaluated)
    found = temporal_figures_by_method(exported, clip, "art", 10)
    assert found["frames"] == 10 and found["clip"] == str(clip)
    methods = COMPARED_METHODS
    inputs = {found[m]["input_warping_error"] for m in methods}
    assert len(inputs) == 1 and inputs.pop() > 0  # one clip, one flow, one input figure
    for method in methods:
        plain, steady = found[method], found[method + "+flow"]
        assert all(math.isfinite(v) for v in (*plain.values(), *steady.values()))
        expected = (plain["warping_error"] + RATIO_EPSILON) / (
            plain["input_warping_error"] + RATIO_EPSILON
        )
        assert plain["ratio"] == pytest.approx(expected, rel=1e-9)
        assert steady["warping_error"] < plain["warping_error"]
    # The input clip itself, scored as an output, is exactly as stable as itself.
    frames = list(video.iter_frames(clip))[:10]
    assert temporal_figures(frames, frames)["ratio"] == pytest.approx(1.0)


def test_evaluate_script_with_a_video_writes_temporal_figures(evaluated, tmp_path):
    from conftest import make_video

    run = tmp_path / "run"
    for part in ("export", "data"):
        shutil.copytree(evaluated / part, run / part)
    clip = make_video(tmp_path / "clip.mp4", frames=8, size="128x72", source="mandelbrot")
    result = subprocess.run(
        [sys.executable, str(ROOT / "evaluate_latents.py"), f"--run_dir={run}", f"--video={clip}",
         "--frames=1", "--max_records=10", "--texture_weights=none"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    temporal = json.loads((run / "eval" / "metrics.json").read_text())["temporal"]
    assert temporal["frames"] == 8 and {"residual", "refine", "split"} < set(temporal)
    bad = subprocess.run(
        [sys.executable, str(ROOT / "evaluate_latents.py"), f"--run_dir={run}",
         f"--video={tmp_path / 'missing.mp4'}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (
        bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    )


def test_missing_export_names_the_step(tiny_run, tmp_path):
    shutil.copytree(tiny_run / "data", tmp_path / "run" / "data")
    with pytest.raises(MissingStep, match="export_graphs.py"):
        evaluate(tmp_path / "run", EvalSettings())
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["data"]


def test_failed_evaluation_keeps_the_previous_one(evaluated, tmp_path, monkeypatch):
    run = tmp_path / "run"
    for part in ("export", "data", "eval"):
        shutil.copytree(evaluated / part, run / part)
    before = {p.name: p.read_bytes() for p in (run / "eval").iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("stopped midway")

    monkeypatch.setattr(evaluate_run, "interpolation_sheet", broken)
    with pytest.raises(RuntimeError, match="stopped midway"):
        evaluate(run, EvalSettings(frames=1, max_records=10))
    assert {p.name: p.read_bytes() for p in (run / "eval").iterdir()} == before
    assert sorted(p.name for p in run.iterdir()) == ["data", "eval", "export"]


def test_domains_default_to_the_only_one_of_their_kind():
    from vaest.data.records import Domain, Manifest
    from vaest.errors import UserError

    def manifest(*kinds):
        domains = [Domain(i, f"d{i}", kind) for i, kind in enumerate(kinds)]
        return Manifest(image_size=(36, 64), domains=domains, shards={})

    one = manifest("video", "painting")
    assert choose_domain(one.domains, "painting", None, "target") == "d1"
    assert choose_domain(one.domains, "video", None, "source") == "d0"
    several = manifest("video", "painting", "painting")
    assert choose_domain(several.domains, "painting", "d2", "target") == "d2"
    with pytest.raises(UserError, match=r"several painting domains \(d1, d2\).*--target"):
        choose_domain(several.domains, "painting", None, "target")
    with pytest.raises(UserError, match="d0 is not a painting domain.*d1, d2"):
        choose_domain(several.domains, "painting", "d0", "target")
    with pytest.raises(UserError, match="no video domain"):
        choose_domain(manifest("painting").domains, "video", None, "source")
