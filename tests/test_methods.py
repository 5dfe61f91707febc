"""Stylized frames keep their structure: the new methods against the original design."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vaest.data.records import domain_images
from vaest.latent import Shift
from vaest.measure import metrics
from vaest.measure.style import StyleTally, style_figures
from vaest.stylize.methods import frequency_split, low_pass, residual_transfer, stylize_by_method


def test_frequency_split_keeps_all_detail_at_one_and_none_at_zero(photos):
    frames = photos["astronaut"][None, ::8, ::8].astype(np.float32) / 255.0
    decoded = np.full_like(frames, 0.5)
    full = frequency_split(decoded, frames, detail=1.0)
    none = frequency_split(decoded, frames, detail=0.0)
    np.testing.assert_allclose(full, np.clip(0.5 + frames - low_pass(frames, 3.0), 0, 1), atol=1e-6)
    np.testing.assert_allclose(none, 0.5, atol=1e-6)
    # With the frame itself as the decode, the split gives the frame back.
    np.testing.assert_allclose(frequency_split(frames, frames, 1.0), frames, atol=1e-5)
    assert metrics.edge_correlation(full, frames).mean() > 0.95


@pytest.fixture(scope="module")
def guided_run(tiny_run, tmp_path_factory):
    """The tiny run's VAE with a structure-guided refiner beside its unguided one."""
    from vaest.export.write import export
    from vaest.train.refiner import RefinerSettings, train_refiner

    run = tmp_path_factory.mktemp("guided") / "run"
    run.mkdir()
    for part in ("data", "vae"):
        shutil.copytree(tiny_run / part, run / part)
    train_refiner(
        run,
        RefinerSettings(
            steps=30, batch_size=8, learning_rate=1e-3, save_every=30, preview_every=30
        ),
        {"guide": "highpass"},
    )
    export(run)
    return run


def _held_out_frames(run, domain="clip"):
    return domain_images(run / "data", "val", domain)


def test_new_methods_keep_structure_and_sharpness_better_than_seed(tiny_run, guided_run):
    from vaest.export.read import Exported

    seed, guided = Exported.from_run(tiny_run), Exported.from_run(guided_run)
    assert not seed.guided and guided.guided
    frames = _held_out_frames(tiny_run)
    paintings = metrics.colour_statistics(_held_out_frames(tiny_run, "art"))
    source = seed.domain("clip").centroid
    target = seed.domain("art").centroid
    seed_out = stylize_by_method(seed, frames, Shift.toward(source, target, 1.0))["refine"]
    new = stylize_by_method(guided, frames, Shift.toward(source, target, 1.0))
    figures = {name: style_figures(images, frames, paintings) for name, images in new.items()}
    seed_figures = style_figures(seed_out, frames, paintings)
    for method in ("residual", "refine"):  # the guided refiner, with and without the residual
        assert figures[method]["edge_correlation"] > seed_figures["edge_correlation"] + 0.1
        assert figures[method]["sharpness"] > seed_figures["sharpness"]
    assert figures["split"]["edge_correlation"] > seed_figures["edge_correlation"]
    # The residual brings back the structure the refiner still misses.
    assert figures["residual"]["edge_correlation"] > figures["refine"]["edge_correlation"]
    # The same export through its one-graph stylize path gives the guided refiner's output.
    one_graph = guided.stylize(frames, source, target, 1.0, 1.0, detail=1.0)
    np.testing.assert_allclose(one_graph, new["refine"], atol=2e-3)


def test_residual_transfer_adds_the_zero_mean_residual():
    rng = np.random.default_rng(0)
    frames, rebuilt, styled = rng.uniform(0.2, 0.8, size=(3, 2, 8, 8, 3)).astype(np.float32)
    rebuilt = rebuilt + 0.1  # a colour bias of the model: not carried over
    out = residual_transfer(styled, rebuilt, frames, detail=1.0)
    residual = frames - rebuilt
    expected = styled + residual - residual.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, np.clip(expected, 0, 1), atol=1e-6)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), styled.mean(axis=(1, 2)), atol=0.02)
    np.testing.assert_allclose(residual_transfer(styled, rebuilt, frames, 0.0), styled)


def test_style_tally_over_batches_equals_the_whole_set(photos):
    frames = np.stack([photos[n][:256:4, :384:4] for n in ("astronaut", "coffee")]) / 255.0
    outputs = low_pass(frames, 1.5)
    paintings = metrics.colour_statistics(frames[..., ::-1])
    tally = StyleTally()
    tally.add(outputs[:1], frames[:1])
    tally.add(outputs[1:], frames[1:])
    whole = style_figures(outputs, frames, paintings)
    for name, value in tally.figures(paintings).items():
        assert value == pytest.approx(whole[name], rel=1e-9)
    assert whole["sharpness"] < 0.8 and whole["edge_correlation"] > 0.5


def test_detail_dial_sets_how_much_structure_is_kept(tiny_run, guided_run):
    from vaest.export.read import Exported

    guided = Exported.from_run(guided_run)
    frames = _held_out_frames(tiny_run)
    source, target = guided.domain("clip").centroid, guided.domain("art").centroid
    kept = [
        metrics.edge_correlation(guided.stylize(frames, source, target, 1, 1, detail=d), frames)
        for d in (0.0, 1.0)
    ]
    assert kept[1].mean() > kept[0].mean()
