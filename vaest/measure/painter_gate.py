"""Whether the painter paints: its figures on frames it never trained on, beside `residual`'s,
and the verdict that --method auto follows.

Measured when the painter is exported (vaest.export.painter_figures), on the exported graphs,
so that what is judged is what step 7 runs. The frames are the last HELD_OUT of each video's
paint frames, which the painter's training never draws (vaest.train.painter), painted toward
each of its painting domains at the paint resolution:
- edge_correlation of the painted frames with the frames: the structure kept;
- texture_distance_ratio: the distance of their VGG16 texture statistics to the domain's
  paintings over the frames' own (vaest.measure.style), for the painter and for `residual`'s
  picture there (the frame plus the shift's change laid along its edges, which is also the
  painter's colour guide);
- deception_rate: the share of the frames' quarters a style classifier fitted on the domain's
  paintings takes for paintings (vaest.measure.paint_judge), for both; or, when it cannot tell
  the paintings from the frames, "not separable: <why>";
- warp_ratio: on a run of consecutive held-out frames, flow-stabilised as step 7 does, the
  painted frames' warping error over the frames' own (vaest.flow): how much more they flicker
  than the clip.

--method auto paints only when the painter's edge correlation is at least EDGE_FLOOR, its texture
ratio beats residual's, the judge takes more of its frames for paintings than residual's and its
warp ratio is at most WARP_LIMIT. A painter trained too briefly paints a blur, which is worse
than residual on the first two counts; one that only moves the colours can beat residual's
texture ratio (the Gram statistics hold the palette too) and is stopped by the judge, whose
negatives are frames graded toward the paintings; one trained on texture alone can pass all
three and boil from frame to frame, which a shared video shows at once.
"""

from __future__ import annotations

HELD_OUT = 0.1  # of each video's paint frames, the last ones
MIN_TRAINED = 20  # a video with fewer paint frames keeps them all for training
EDGE_FLOOR = 0.45  # the painter's edge correlation below this has lost the frame
# Stabilised painted frames that change along the flow more than this many times as much as the
# clip does boil. A painter trained on texture alone measured 42 on an unseen pan (doc/painter.md);
# the old default's poster 1.7, residual 0.5.
WARP_LIMIT = 2.5


def held_out_count(frames: int) -> int:
    """How many of a video's last paint frames training leaves out for measuring."""
    return int(frames * HELD_OUT) if frames >= MIN_TRAINED else 0


PAINTS = (
    "the painter beats residual's held-out texture ratio and judged share of paint, keeps the "
    "edges and is steady"
)


def painter_verdict(figures: dict | None) -> tuple[bool, str]:
    """(whether --method auto paints, why), from measure_painter's figures (None: unmeasured).
    Every domain must pass."""
    if not figures or not figures.get("domains"):
        return False, "the painter has no held-out figures: export it again"
    for domain, by_method in figures["domains"].items():
        refusal = _refusal(domain, by_method)
        if refusal:
            return False, refusal
    return True, PAINTS


def figures_line(figures: dict | None) -> str:
    """The figures the verdict reads, painter against residual, in one line per domain."""
    if not figures or not figures.get("domains"):
        return "not measured"
    shown = (
        ("edge_correlation", "edge correlation"),
        ("texture_distance_ratio", "texture ratio"),
        ("deception_rate", "judged painted"),
        ("warp_ratio", "flicker"),
    )
    lines = []
    for domain, by_method in figures["domains"].items():
        parts = []
        for key, name in shown:
            mine, theirs = (by_method[m].get(key) for m in ("painter", "residual"))
            if isinstance(mine, float) and isinstance(theirs, float):
                parts.append(f"{name} {mine:.2f} (residual {theirs:.2f})")
        lines.append(f"toward {domain}: {', '.join(parts) or 'not measured'}")
    return "; ".join(lines)


def _refusal(domain: str, by_method: dict) -> str | None:
    """Why the painter is not taken toward one domain, or None."""
    painter, residual = by_method["painter"], by_method["residual"]
    edges = painter["edge_correlation"]
    if edges < EDGE_FLOOR:
        return (
            f"the painter loses the frame toward {domain}: held-out edge correlation "
            f"{edges:.2f} < {EDGE_FLOOR}"
        )
    if "texture_distance_ratio" not in painter:
        return "the painter's texture was not measured (no VGG16 weights)"
    mine, theirs = painter["texture_distance_ratio"], residual["texture_distance_ratio"]
    if mine >= theirs:
        return (
            f"the painter does not paint {domain} more than residual does: held-out texture "
            f"ratio {mine:.2f}, residual's {theirs:.2f}"
        )
    if "deception_rate" not in painter:
        return "the painter was not judged for paint: export it again"
    mine, theirs = painter["deception_rate"], residual["deception_rate"]
    if isinstance(mine, str):  # the judge's reason
        return f"the painter cannot be judged toward {domain} ({mine}), so it is not taken"
    if mine <= theirs:
        return (
            f"the painter does not look painted toward {domain}: a style classifier takes "
            f"{mine:.2f} of its held-out frame quarters for paintings, residual's {theirs:.2f}"
        )
    if "warp_ratio" not in painter:
        return "the painter's flicker was not measured: export it again"
    flicker = painter["warp_ratio"]
    if flicker > WARP_LIMIT:
        return (
            f"the painter's strokes boil toward {domain}: stabilised, its held-out frames change "
            f"{flicker:.1f} times as much as the clip along the flow (limit {WARP_LIMIT})"
        )
    return None
