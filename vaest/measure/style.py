"""How much structure a stylized output keeps and how far its colours and texture moved."""

from __future__ import annotations

import numpy as np

from vaest.io.imaging import as_float_images
from vaest.measure import metrics


class StyleTally:
    """Style figures (see style_figures) gathered batch by batch, for sets too big to hold.

    With `texture` (a vaest.measure.features.TextureFeatures) it also pools the Gram matrices of the
    outputs and the frames, for a texture figure, and keeps their style descriptors, for the
    deception rate of a style classifier (vaest.measure.deception).
    """

    def __init__(self, texture=None):
        self.texture = texture
        self.edge_correlation, self.sharpness = [], []
        self.colours = {"output": [], "input": []}
        self.grams = {"output": [], "input": []}  # (per-layer Gram means, image count)
        self.descriptors = {"output": [], "input": []}  # features.style_descriptors rows

    def add(self, outputs, frames) -> None:
        outputs, frames = as_float_images(outputs), as_float_images(frames)
        self.edge_correlation.extend(metrics.edge_correlation(outputs, frames))
        self.sharpness.extend(metrics.sharpness_ratio(outputs, frames))
        for key, images in (("output", outputs), ("input", frames)):
            self.colours[key].append(metrics.colour_statistics(images))
            if self.texture is not None:
                from vaest.measure.features import style_descriptors, texture_statistics

                self.grams[key].append((texture_statistics(self.texture, images), len(images)))
                self.descriptors[key].append(style_descriptors(self.texture, images))

    def figures(
        self, paintings_colour: metrics.ColourStats, paintings_texture=None, classifier=None
    ):
        """{figure: value}; texture_distance_ratio only with texture features and the
        paintings' texture statistics (vaest.measure.features.texture_statistics); the
        deception figures (vaest.measure.deception.deception_figures) with texture features and
        a style classifier fitted on the same descriptors."""
        before, after = (
            metrics.colour_distance(
                metrics.pooled_colour_statistics(self.colours[key]), paintings_colour
            )
            for key in ("input", "output")
        )
        found = {
            "edge_correlation": float(np.mean(self.edge_correlation)),
            "sharpness": float(np.mean(self.sharpness)),
            "colour_distance_ratio": float(after / max(before, 1e-9)),
        }
        if self.texture is not None and paintings_texture is not None:
            from vaest.measure.features import pooled_texture_statistics, texture_distance_to

            before, after = (
                texture_distance_to(pooled_texture_statistics(self.grams[key]), paintings_texture)
                for key in ("input", "output")
            )
            found["texture_distance_ratio"] = float(after / max(before, 1e-12))
        if self.texture is not None and classifier is not None:
            from vaest.measure.deception import deception_figures

            stylized, inputs = (np.concatenate(self.descriptors[k]) for k in ("output", "input"))
            deception = deception_figures(classifier, stylized, inputs)
            if classifier.usable:
                found.update(deception)
            else:  # reported as such, never as a number
                found["deception_rate"] = deception["note"]
        return found


def style_figures(
    outputs,
    frames,
    paintings_colour: metrics.ColourStats,
    texture=None,
    paintings_texture=None,
    classifier=None,
) -> dict[str, float]:
    """How much structure a stylized output keeps and how far its colours (and texture) moved.

    - edge_correlation: of Sobel edge strength with the input frame (1: the same edges);
    - sharpness: gradient energy relative to the input frame's (1: as sharp);
    - colour_distance_ratio: distance of the outputs' colour statistics to the paintings',
      relative to the input frames' distance (below 1: closer to the paintings);
    - texture_distance_ratio, with `texture` features and the paintings' texture statistics:
      the same for the VGG Gram-matrix distance (vaest.measure.features.texture_distance_to).
    """
    tally = StyleTally(texture)
    tally.add(outputs, frames)
    return tally.figures(paintings_colour, paintings_texture, classifier)
