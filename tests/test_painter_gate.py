"""--method auto paints only with a painter whose held-out figures beat residual's."""

from __future__ import annotations

import numpy as np
import pytest

from vaest.measure.painter_gate import (
    EDGE_FLOOR,
    PAINTS,
    WARP_LIMIT,
    figures_line,
    held_out_count,
    painter_verdict,
)
from vaest.stylize.plan import resolve_method


def figures(
    edges=0.7, texture=0.4, residual_texture=0.9, judged=0.8, residual_judged=0.0, warp=1.7
):
    return {
        "held_out": True,
        "frames": 12,
        "domains": {
            "art": {
                "painter": {
                    "edge_correlation": edges,
                    "texture_distance_ratio": texture,
                    "deception_rate": judged,
                    "warp_ratio": warp,
                },
                "residual": {
                    "edge_correlation": 0.98,
                    "texture_distance_ratio": residual_texture,
                    "deception_rate": residual_judged,
                    "warp_ratio": 0.5,
                },
            }
        },
    }


def test_a_painter_that_paints_more_than_residual_and_keeps_the_edges_paints():
    assert painter_verdict(figures()) == (True, PAINTS)


@pytest.mark.parametrize(
    ("found", "words"),
    [
        (figures(edges=0.195, texture=1.21), "edge correlation 0.20 < 0.45"),  # a blur
        (figures(texture=1.21, residual_texture=1.03), "texture ratio 1.21, residual's 1.03"),
        (figures(texture=0.9, residual_texture=0.9), "does not paint art more than residual"),
        # make demo's painter at 600 steps: its colours halved the texture ratio, no paint
        (
            figures(edges=0.71, texture=0.65, residual_texture=0.99, judged=0.0),
            "takes 0.00 of its held-out frame quarters for paintings, residual's 0.00",
        ),
        (figures(judged=0.25, residual_judged=0.25), "does not look painted toward art"),
        (
            figures(judged="not separable: too few samples"),
            "cannot be judged toward art (not separable: too few samples)",
        ),
        # a painter trained on texture alone (doc/painter.md): painted, and boiling
        (
            figures(edges=0.47, texture=0.18, residual_texture=0.78, judged=0.21, warp=42.1),
            "its held-out frames change 42.1 times as much as the clip along the flow",
        ),
        (figures(warp=WARP_LIMIT + 0.01), "strokes boil toward art"),
        (None, "no held-out figures"),
        ({"domains": {}}, "no held-out figures"),
    ],
)
def test_a_painter_worse_than_residual_falls_back_and_says_why(found, words):
    paints, why = painter_verdict(found)
    assert not paints and words in why


def test_every_domain_must_pass():
    both = figures()
    both["domains"]["ink"] = figures(edges=EDGE_FLOOR - 0.01)["domains"]["art"]
    paints, why = painter_verdict(both)
    assert not paints and "toward ink" in why


def test_a_painter_without_texture_figures_does_not_paint():
    found = figures()
    del found["domains"]["art"]["painter"]["texture_distance_ratio"]
    assert painter_verdict(found) == (
        False,
        "the painter's texture was not measured (no VGG16 weights)",
    )


class Export:
    def __init__(self, has_painter, painter_figures=None):
        self.has_painter, self.painter_figures = has_painter, painter_figures


def test_an_export_made_before_the_judge_does_not_paint():
    found = figures()
    for method in ("painter", "residual"):
        del found["domains"]["art"][method]["deception_rate"]
    assert painter_verdict(found) == (
        False,
        "the painter was not judged for paint: export it again",
    )


def test_auto_resolves_by_the_verdict_and_names_its_reason():
    assert resolve_method("auto", Export(True, figures())) == ("paint", PAINTS)
    method, why = resolve_method("auto", Export(True, figures(edges=0.1)))
    assert method == "residual" and "edge correlation 0.10" in why
    assert resolve_method("auto", Export(False)) == ("residual", "the export has no painter")
    assert resolve_method("auto", Export(True, figures()), refine=False)[0] == "residual"
    assert resolve_method("paint", Export(True, figures(edges=0.1))) == ("paint", "asked for")


def test_a_tenth_of_a_long_video_is_held_out_and_a_short_one_keeps_every_frame():
    assert [held_out_count(n) for n in (2, 19, 20, 24, 300)] == [0, 0, 2, 2, 30]


def test_the_figures_line_sets_the_painter_beside_residual():
    assert figures_line(figures(judged=0.5)) == (
        "toward art: edge correlation 0.70 (residual 0.98), texture ratio 0.40 (residual 0.90), "
        "judged painted 0.50 (residual 0.00), flicker 1.70 (residual 0.50)"
    )
    assert figures_line(None) == "not measured"


def test_an_export_made_before_the_flicker_was_measured_does_not_paint():
    found = figures()
    del found["domains"]["art"]["painter"]["warp_ratio"]
    assert painter_verdict(found) == (
        False,
        "the painter's flicker was not measured: export it again",
    )


def test_the_flicker_figure_tells_boiling_strokes_from_steady_ones(photos):
    """The export's flicker figure (stabilised as step 7 does) on a pan over a photograph: a
    steady recolouring stays near the clip's own flicker, strokes drawn afresh each frame
    (blots placed at random, as a painter of texture alone paints) are far above the limit."""
    from vaest.export.painter_figures import _warp_ratio

    photo = photos["chelsea"].astype(np.float32) / 255.0
    frames = np.stack([photo[100 : 100 + 120, 40 + 3 * t : 40 + 3 * t + 160] for t in range(12)])
    steady = frames * np.array([1.0, 0.7, 0.5], np.float32)  # a grade, moving with the scene
    rng = np.random.default_rng(0)
    boiling = steady.copy()
    for picture in boiling:
        for _ in range(12):  # dark blots of 12 px, somewhere new in every frame
            y, x = rng.integers(0, 108), rng.integers(0, 148)
            picture[y : y + 12, x : x + 12] = 0.05
    assert _warp_ratio(frames, steady) < 1.0
    assert _warp_ratio(frames, boiling) > 2 * WARP_LIMIT
