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
  painter's colour guide).

--method auto paints only when the painter's texture ratio beats residual's and its edge
correlation is at least EDGE_FLOOR: a painter trained too briefly paints a blur, which is worse
than residual on both counts.
"""

from __future__ import annotations

HELD_OUT = 0.1  # of each video's paint frames, the last ones
MIN_TRAINED = 20  # a video with fewer paint frames keeps them all for training
EDGE_FLOOR = 0.45  # the painter's edge correlation below this has lost the frame


def held_out_count(frames: int) -> int:
    """How many of a video's last paint frames training leaves out for measuring."""
    return int(frames * HELD_OUT) if frames >= MIN_TRAINED else 0


def painter_verdict(figures: dict | None) -> tuple[bool, str]:
    """(whether --method auto paints, why), from measure_painter's figures (None: unmeasured).
    Every domain must pass."""
    if not figures or not figures.get("domains"):
        return False, "the painter has no held-out figures: export it again"
    for domain, by_method in figures["domains"].items():
        painter, residual = by_method["painter"], by_method["residual"]
        edges = painter["edge_correlation"]
        if edges < EDGE_FLOOR:
            return False, (
                f"the painter loses the frame toward {domain}: held-out edge correlation "
                f"{edges:.2f} < {EDGE_FLOOR}"
            )
        if "texture_distance_ratio" not in painter:
            return False, "the painter's texture was not measured (no VGG16 weights)"
        mine, theirs = painter["texture_distance_ratio"], residual["texture_distance_ratio"]
        if mine >= theirs:
            return False, (
                f"the painter does not paint {domain} more than residual does: held-out "
                f"texture ratio {mine:.2f}, residual's {theirs:.2f}"
            )
    return True, "the painter beats residual's held-out texture ratio and keeps the edges"
