"""The exported painter's figures on paint frames it never trained on, beside `residual`'s: what
vaest.measure.painter_gate judges, measured on the exported graphs (vaest.export.write), so
that what is judged is what step 7 runs. With texture features, each domain also gets a judge of
paint (vaest.measure.paint_judge) fitted on its paintings and the training paint frames, and
both methods get the share of held-out frame quarters it takes for paintings. Both methods'
flicker is measured on a run of consecutive held-out frames, flow-stabilised as step 7 does."""

from __future__ import annotations

import numpy as np

from vaest.data.preview import evenly_spaced
from vaest.flow import temporal_figures
from vaest.latent import Shift
from vaest.measure import metrics
from vaest.measure.painter_gate import held_out_count
from vaest.measure.style import StyleTally
from vaest.stylize.paint import colour_guides, paint_frames, painter_weights
from vaest.stylize.stabilize import stabilize

MEASURED = 12  # held-out frames painted per video, evenly spaced
STEADY_RUN = 12  # consecutive held-out frames per video whose flicker is measured


def _measured_frames(frames: np.ndarray):
    """(the held-out frames to paint, the rows of them the style figures read (MEASURED evenly
    spaced), the rows of the first STEADY_RUN consecutive ones (the flicker's), the frames
    training draws, whether training never saw the first). A frame both read is painted once."""
    count = held_out_count(len(frames))
    tail = frames[-count:] if count else frames
    picks = sorted(evenly_spaced(len(tail), MEASURED))
    run = list(range(min(STEADY_RUN, len(tail))))
    needed = sorted(set(picks) | set(run))
    row = {index: k for k, index in enumerate(needed)}
    rows = [row[i] for i in picks], [row[i] for i in run]
    return tail[needed], *rows, frames[: len(frames) - count], count > 0


def _painted(exported, frames, domain_weights, shift) -> tuple[np.ndarray, np.ndarray]:
    """(the painter's pictures, residual's) for frames at the paint data's size."""
    residual = colour_guides(exported, frames, shift, "change")
    guides = residual
    if exported.painter_guide != "change":
        guides = colour_guides(exported, frames, shift)
    return paint_frames(exported, frames, guides, domain_weights), residual


def _warp_ratio(frames, pictures) -> float | None:
    """The pictures' warping error over the frames' own, after step 7's flow stabiliser."""
    return temporal_figures(stabilize(frames, pictures), frames)["ratio"]


def _judged(texture, paintings, training, outputs: dict) -> tuple[dict, dict]:
    """(the judge's own figures, {method: share of its quarters taken for paintings}), the
    judge fitted on the domain's paintings against the training frames. A judge that cannot
    tell the two apart gives its reason in place of every share, never a number."""
    from vaest.measure.paint_judge import fit_paint_judge, painted_share

    judge = fit_paint_judge(texture, paintings, training)
    if not judge.usable:
        own = {"note": f"not separable: {judge.reason}"}
        return own, dict.fromkeys(outputs, own["note"])
    shares = {k: painted_share(judge, texture, v) for k, v in outputs.items()}
    own = {
        "balanced_accuracy": judge.balanced_accuracy,
        "input_deception_rate": shares.pop("input"),
        "note": "share of held-out frame quarters a style classifier takes for paintings "
        f"({judge.painting_count} painting windows; {judge.negative_count} frame windows, "
        "graded windows and photographs)",
    }
    return own, shares


def measure_painter(exported, paint_data, texture) -> dict:
    """The painter's and residual's figures toward each painter domain, over every video's
    held-out paint frames; texture: vaest.measure.features.TextureFeatures, or None (then no
    texture figure, and the verdict falls back to residual)."""
    frames, training, held_out = [], [], True
    for name in paint_data.frames:
        tail, picks, run, trained, unseen = _measured_frames(paint_data.frames[name])
        frames.append((name, tail, picks, run))
        training.append(trained)
        held_out = held_out and unseen
    training = np.concatenate(training)
    measured = sum(len(picks) for _, _, picks, _ in frames)
    figures = {"held_out": held_out, "frames": measured, "domains": {}}
    for domain in exported.painter_domains:
        paintings = np.stack(paint_data.paintings[domain])
        colour = metrics.colour_statistics(paintings)
        paintings_texture = None
        if texture is not None:
            from vaest.measure.features import texture_statistics

            paintings_texture = texture_statistics(texture, paintings)
        tallies = {"painter": StyleTally(texture), "residual": StyleTally(texture)}
        outputs = {"input": [], "painter": [], "residual": []}
        warps = {"painter": [], "residual": []}
        weights = painter_weights(exported, {domain: 1.0})
        for video, tail, picks, run in frames:
            shift = Shift.toward(
                exported.domain(video).centroid, exported.domain(domain).centroid, 1.0
            )
            painted, residual = _painted(exported, tail, weights, shift)
            pictures = {"painter": painted, "residual": residual}
            chosen = tail[picks]
            for method, tally in tallies.items():
                tally.add(pictures[method][picks], chosen)
            outputs["input"].append(chosen)
            for method, images in pictures.items():
                outputs[method].append(images[picks])
                if len(run) >= 2:
                    warps[method].append(_warp_ratio(tail[run], images[run]))
        found = {
            method: tally.figures(colour, paintings_texture) for method, tally in tallies.items()
        }
        for method, ratios in warps.items():
            if ratios:  # the worst video's: every clip is painted the same way
                found[method]["warp_ratio"] = float(max(ratios))
        if texture is not None:
            outputs = {k: np.concatenate(v) for k, v in outputs.items()}
            judge, shares = _judged(texture, paint_data.paintings[domain], training, outputs)
            found["judge"] = judge
            for method in tallies:
                found[method]["deception_rate"] = shares[method]
        figures["domains"][domain] = found
    return figures
