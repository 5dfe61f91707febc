"""The exported painter's figures on paint frames it never trained on, beside `residual`'s: what
vaest.measure.painter_gate judges, measured on the exported graphs (vaest.export.write), so
that what is judged is what step 7 runs."""

from __future__ import annotations

import numpy as np

from vaest.latent import Shift
from vaest.measure import metrics
from vaest.measure.painter_gate import held_out_count
from vaest.measure.style import StyleTally
from vaest.stylize.paint import colour_guides, paint_frames, painter_weights

MEASURED = 12  # held-out frames painted per video, evenly spaced


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
