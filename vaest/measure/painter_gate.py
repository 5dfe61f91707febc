"""Whether the painter paints: its figures on frames it never trained on, beside `residual`'s,
and the verdict that --method auto follows.

Measured when the painter is exported (vaest.export.write), on the exported graphs, so that what
is judged is what step 7 runs. The frames are the last HELD_OUT of each video's paint frames,
which the painter's training never draws (vaest.train.painter), painted toward each of its
painting domains at the paint resolution:
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

import numpy as np

from vaest.latent import Shift
from vaest.measure import metrics
from vaest.measure.style import StyleTally

HELD_OUT = 0.1  # of each video's paint frames, the last ones
MIN_TRAINED = 20  # a video with fewer paint frames keeps them all for training
MEASURED = 12  # held-out frames painted per video, evenly spaced
EDGE_FLOOR = 0.45  # the painter's edge correlation below this has lost the frame


def held_out_count(frames: int) -> int:
    """How many of a video's last paint frames training leaves out for measuring."""
    return int(frames * HELD_OUT) if frames >= MIN_TRAINED else 0


def _measured_frames(frames: np.ndarray) -> tuple[np.ndarray, bool]:
    """The frames to paint, and whether training never saw them."""
    count = held_out_count(len(frames))
    chosen = frames[-count:] if count else frames
    picks = np.unique(np.linspace(0, len(chosen) - 1, min(MEASURED, len(chosen))).round())
    return chosen[picks.astype(int)], count > 0


def measure_painter(exported, paint_data, texture) -> dict:
    """The painter's and residual's figures toward each painter domain, over every video's
    held-out paint frames; texture: vaest.measure.features.TextureFeatures, or None (then no
    texture figure, and the verdict falls back to residual)."""
    from vaest.stylize.paint import colour_guides, paint_frames, painter_weights

    frames, held_out = [], True
    for name in paint_data.frames:
        chosen, unseen = _measured_frames(paint_data.frames[name])
        frames.append((name, chosen))
        held_out = held_out and unseen
    figures = {"held_out": held_out, "frames": sum(len(f) for _, f in frames), "domains": {}}
    for domain in exported.painter_domains:
        paintings = np.stack(paint_data.paintings[domain])
        colour = metrics.colour_statistics(paintings)
        paintings_texture = None
        if texture is not None:
            from vaest.measure.features import texture_statistics

            paintings_texture = texture_statistics(texture, paintings)
        tallies = {"painter": StyleTally(texture), "residual": StyleTally(texture)}
        for video, chosen in frames:
            shift = Shift.toward(
                exported.domain(video).centroid, exported.domain(domain).centroid, 1.0
            )
            residual = colour_guides(exported, chosen, shift, "change")
            guides = residual
            if exported.painter_guide != "change":
                guides = colour_guides(exported, chosen, shift)
            painted = paint_frames(
                exported, chosen, guides, painter_weights(exported, {domain: 1.0})
            )
            tallies["painter"].add(painted, chosen)
            tallies["residual"].add(residual, chosen)
        figures["domains"][domain] = {
            method: tally.figures(colour, paintings_texture) for method, tally in tallies.items()
        }
    return figures


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
