"""--method optimize: each output picture found by optimisation, as in Gatys et al.'s style
transfer and, for video, Ruder et al.'s "Artistic style transfer for videos" (GCPR 2016).

A picture x at the working size minimises the weighted sum of
- content: the relu4_2 distance to the frame (vaest.measure.feature_loss.FeatureDistance);
- texture: the sliced Wasserstein distance of x's relu1_2, relu2_2 and relu3_3 feature vectors
  to the target's (a painting domain's tiles or a style frame, vaest.stylize.optimize.textures),
  or, for comparison, the distance of their Gram matrices;
- colour: x low-passed (cell means) against decode(z'), upsampled and low-passed alike:
  the latent shift sets the palette, so --strength, mixes and timelines keep their meaning;
- temporal: Ruder et al.'s short-term loss, (1/D) sum c (x - w)^2, with w the previous output
  warped along the input's flow and c the visibility of vaest.flow (zero for a first frame);
- variation: the mean squared difference of neighbouring pixels, against the speckle that
  gradient steps on single pixels leave.

Two minimisers: L-BFGS (tensorflow-probability's, as Gatys and Ruder used) and Adam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaest.measure.feature_loss import (
    FeatureDistance,
    FrozenVGG,
    gram_loss,
    sliced_wasserstein,
)
from vaest.measure.features import TextureFeatures

CONTENT_LAYER = 3  # relu4_2 in TextureFeatures(content=True)'s maps
COLOUR_CELL = 8  # pixels of the working size per cell of the colour term's grid
# Feature vectors compared per layer and projections: as few as keep the texture, since sorting
# them costs as much as the network. Adam draws them afresh every step (the same draws for every
# frame); L-BFGS needs one fixed objective, so it keeps the first draw.
SLICED_POSITIONS = 4096
SLICED_DIRECTIONS = 64
ADAM_RATE = 0.02  # per step, in units of the [0, 1] picture
ADAM_BETAS = (0.9, 0.999)
TERMS = ("content", "texture", "colour", "temporal", "variation")


@dataclass(frozen=True)
class Weights:
    """How much each term counts; the terms are scale-free or in [0, 1] picture units."""

    content: float = 1.0
    texture: float = 4.0
    colour: float = 50.0
    temporal: float = 200.0
    variation: float = 4.0

    def vector(self) -> tf.Tensor:
        return tf.constant([getattr(self, name) for name in TERMS], tf.float32)


class FrameTarget(NamedTuple):
    """What one picture is pulled toward, as tensors of fixed structure: a first frame has a zero
    visibility, so that every frame runs the same graph."""

    content: tf.Tensor  # [1, h, w, 512]: the frame's relu4_2 features
    texture: tuple  # per layer: a pool [1, P, C] (sliced) or a Gram matrix [C, C]
    colour: tf.Tensor  # [1, gh, gw, 3]: decode(z') on the colour grid
    previous: tf.Tensor  # [1, H, W, 3]: the previous output warped onto this frame
    visible: tf.Tensor  # [1, H, W, 1]: where it counts (Ruder et al.'s c)


def low_pass(images):
    """[N, H, W, 3] -> the means of COLOUR_CELL x COLOUR_CELL cells (differentiably)."""
    return tf.nn.avg_pool2d(images, COLOUR_CELL, COLOUR_CELL, "SAME")


class Objective:
    """The weighted loss of a picture and its gradient, for one texture kind."""

    def __init__(self, features: TextureFeatures, weights: Weights, texture: str = "sliced"):
        if len(features.trunk.outputs) != 4:
            raise ValueError("the objective needs TextureFeatures(path, content=True)")
        self.vgg = FrozenVGG(features)
        self.content_distance = FeatureDistance(features, CONTENT_LAYER)
        self.texture = texture
        self.weights = weights
        self._weights = weights.vector()

    def maps(self, images) -> list:
        """RGB [N, H, W, 3] in [0, 1] -> relu1_2, relu2_2, relu3_3 and relu4_2 maps."""
        return self.vgg.features(images)

    def frame_target(self, frame, colour, texture, previous=None, visible=None) -> FrameTarget:
        """The target of one frame (float [H, W, 3] at the working size): colour is decode(z')
        at any size; texture comes from vaest.stylize.optimize.textures; previous and visible are
        the warped previous output and its visibility (bool or weights [H, W]), or None."""
        frame = np.asarray(frame, np.float32)
        size = frame.shape[:2]
        content = self.maps(frame[None])[CONTENT_LAYER]
        # decode(z') upsampled to the working size, then low-passed like the picture
        colour = tf.image.resize(tf.constant(np.asarray(colour, np.float32)[None]), size)
        colour = low_pass(colour)
        if previous is None:
            previous, visible = np.zeros_like(frame), np.zeros(size, np.float32)
        return FrameTarget(
            content,
            tuple(tf.constant(t, tf.float32) for t in texture),
            colour,
            tf.constant(np.asarray(previous, np.float32)[None]),
            tf.constant(np.asarray(visible, np.float32)[None, ..., None]),
        )

    @tf.function(reduce_retracing=True)
    def terms(self, x, target: FrameTarget, step=0):
        """[5]: the unweighted content, texture, colour, temporal and variation terms of x;
        step picks the sliced Wasserstein term's random draw."""
        maps = self.vgg.features(x)
        content = self.content_distance.between(maps[CONTENT_LAYER], target.content)[0]
        if self.texture == "sliced":
            texture = sliced_wasserstein(
                maps[:3], list(target.texture), tf.zeros([1], tf.int32), tf.stack([7, step]),
                SLICED_POSITIONS, SLICED_DIRECTIONS,
            )[0]  # fmt: skip
        else:
            texture = gram_loss(maps[:3], list(target.texture))[0]
        colour = tf.reduce_mean(tf.square(low_pass(x) - target.colour))
        temporal = tf.reduce_mean(target.visible * tf.square(x - target.previous))
        variation = tf.reduce_mean(tf.square(x[:, 1:] - x[:, :-1])) + tf.reduce_mean(
            tf.square(x[:, :, 1:] - x[:, :, :-1])
        )
        return tf.stack([content, texture, colour, temporal, variation])

    def loss(self, x, target: FrameTarget, step=None):
        """The weighted loss (with the first draw unless a step is given)."""
        step = tf.constant(0) if step is None else step
        return tf.reduce_sum(self._weights * self.terms(x, target, step))

    @tf.function(reduce_retracing=True)
    def lbfgs(self, x, target: FrameTarget, iterations, previous=None):
        """tfp's L-BFGS from x for `iterations` in all (continuing `previous` results when
        given), on the first draw: L-BFGS needs one fixed objective."""
        shape, first_draw = tf.shape(x), tf.constant(0)

        def value_and_gradient(flat):
            loss, gradient = self.loss_and_gradient(tf.reshape(flat, shape), target, first_draw)
            return loss, tf.reshape(gradient, [-1])

        return tfp.optimizer.lbfgs_minimize(
            value_and_gradient,
            None if previous is not None else tf.reshape(x, [-1]),
            previous_optimizer_results=previous,
            max_iterations=iterations,
            tolerance=0.0,
        )

    @tf.function(reduce_retracing=True)
    def loss_and_gradient(self, x, target: FrameTarget, step=0):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(self._weights * self.terms(x, target, step))
        return loss, tape.gradient(loss, x)


@dataclass
class Minimised:
    picture: np.ndarray  # float32 [H, W, 3] in [0, 1]
    losses: list[float]  # the loss after each iteration (with a trace), else the last one
    evaluations: int  # loss-and-gradient evaluations made


def minimise(
    objective: Objective,
    start,
    target: FrameTarget,
    iterations: int,
    *,
    optimizer: str = "lbfgs",
    trace: bool = False,
) -> Minimised:
    """`iterations` steps of the optimizer from `start` (float [H, W, 3]); trace: also the loss
    after every iteration (L-BFGS then runs one iteration per call, keeping its memory)."""
    x = tf.constant(np.asarray(start, np.float32)[None])
    if optimizer == "adam":
        return _adam(objective, x, target, iterations, trace)
    return _lbfgs(objective, x, target, iterations, trace)


def _adam(objective, x, target, iterations, trace) -> Minimised:
    first, second = tf.zeros_like(x), tf.zeros_like(x)
    (b1, b2), losses = ADAM_BETAS, []
    for step in range(1, iterations + 1):
        loss, gradient = objective.loss_and_gradient(x, target, tf.constant(step))
        first = b1 * first + (1 - b1) * gradient
        second = b2 * second + (1 - b2) * tf.square(gradient)
        corrected = ADAM_RATE * np.sqrt(1 - b2**step) / (1 - b1**step)
        x = x - corrected * first / (tf.sqrt(second) + 1e-8)
        if trace:
            losses.append(float(loss))
    final = float(objective.loss(x, target))
    losses = [*losses[1:], final] if trace else [final]
    return Minimised(_picture(x), losses, iterations + 1)


def _lbfgs(objective, x, target, iterations, trace) -> Minimised:
    shape = x.shape
    if not trace:
        found = objective.lbfgs(x, target, tf.constant(iterations))
        losses = [float(found.objective_value)]
    else:
        found, losses = None, []
        for step in range(1, iterations + 1):
            found = objective.lbfgs(x, target, tf.constant(step), found)
            losses.append(float(found.objective_value))
    picture = _picture(tf.reshape(found.position, shape))
    return Minimised(picture, losses, int(found.num_objective_evaluations))


def _picture(x) -> np.ndarray:
    return np.clip(np.asarray(x)[0], 0.0, 1.0).astype(np.float32)
