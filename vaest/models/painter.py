"""The painter: strokes made at the paint resolution, from the frame and its colour guide.

The paint resolution is the picture's over the config's brush (vaest.upsample.paint_resolution):
training and step 7 both go through it.

A fully convolutional network in Johnson et al.'s 2016 layout, so it runs at any height and width:
reflection padding, a 9x9 conv, two stride-2 3x3 convs, residual blocks, and two nearest-neighbour
upsamplings each followed by a conv (a transposed conv would print a grid), then a 9x9 conv to RGB.
Every normalisation is a conditional instance norm (Dumoulin et al. 2017): one scale and bias per
painting domain, blended by a domain-weight vector, so one network paints every domain of a run
and a mix or a timeline of domains blends those parameters.

Its input is the frame and the colour guide (the latent shift's look at the paint resolution,
see vaest.upsample.colour_guide), 6 channels in [0, 1]; its output is RGB in [0, 1].
"""

from __future__ import annotations

import keras
import tensorflow as tf

from vaest.models.config import PainterConfig

# The two stride-2 convs: the padded input's sides are multiples of this.
STRIDE = 4
GUIDE_MARGIN = 0.02  # the guide is kept this far inside (0, 1), where atanh is finite


def reflect(x, pad: int):
    return tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")


class ConditionalInstanceNorm(keras.layers.Layer):
    """Instance norm whose scale and bias are a blend of one per domain: weights [N, domains]."""

    def __init__(self, domains: int, **kw):
        super().__init__(**kw)
        self.domains = domains

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(
            name="scale", shape=(self.domains, channels), initializer="ones"
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.domains, channels), initializer="zeros"
        )

    def call(self, x, weights):
        mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        normalised = (x - mean) * tf.math.rsqrt(variance + 1e-5)
        scale = tf.matmul(weights, self.scale)[:, None, None, :]
        bias = tf.matmul(weights, self.bias)[:, None, None, :]
        return normalised * scale + bias


class ConvNorm(keras.layers.Layer):
    """Reflection pad, conv, conditional instance norm, and a ReLU unless `relu` is False."""

    def __init__(self, filters: int, kernel: int, domains: int, stride=1, relu=True, **kw):
        super().__init__(**kw)
        self.pad = kernel // 2
        self.conv = keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid")
        self.norm = ConditionalInstanceNorm(domains)
        self.relu = relu

    def call(self, x, weights):
        x = self.norm(self.conv(reflect(x, self.pad)), weights)
        return tf.nn.relu(x) if self.relu else x


class ResidualBlock(keras.layers.Layer):
    def __init__(self, filters: int, domains: int, **kw):
        super().__init__(**kw)
        self.first = ConvNorm(filters, 3, domains)
        self.second = ConvNorm(filters, 3, domains, relu=False)

    def call(self, x, weights):
        return x + self.second(self.first(x, weights), weights)


class Painter(keras.Model):
    """(inputs [N, H, W, 6]: frame and guide in [0, 1], weights [N, domains]) -> [N, H, W, 3]."""

    def __init__(self, config: PainterConfig, **kw):
        super().__init__(**kw)
        self.config = config
        domains = len(config.domains)
        small, middle, large = config.filters
        # Layers as attributes, not lists: TensorFlow checkpoints track attributes only.
        self.stem = ConvNorm(small, 9, domains, name="stem")
        self.down1 = ConvNorm(middle, 3, domains, stride=2, name="down1")
        self.down2 = ConvNorm(large, 3, domains, stride=2, name="down2")
        for i in range(config.residual_blocks):
            setattr(self, f"block{i}", ResidualBlock(large, domains, name=f"block{i}"))
        self.up1 = ConvNorm(middle, 3, domains, name="up1")
        self.up2 = ConvNorm(small, 3, domains, name="up2")
        # Over the guide, the output starts as the guide: its last conv starts at zero.
        start = "zeros" if config.over_guide else "glorot_uniform"
        self.to_rgb = keras.layers.Conv2D(
            3, 9, padding="valid", kernel_initializer=start, name="to_rgb"
        )

    @property
    def blocks(self) -> list:
        return [getattr(self, f"block{i}") for i in range(self.config.residual_blocks)]

    def call(self, inputs, weights=None):
        """weights: [N, domains] domain weights; None paints the even mix of every domain."""
        if weights is None:
            count = len(self.config.domains)
            weights = tf.fill([tf.shape(inputs)[0], count], 1.0 / count)
        height, width = tf.shape(inputs)[1], tf.shape(inputs)[2]
        # Reflect up to multiples of STRIDE, so the upsampled maps meet the input's size.
        pad_h, pad_w = (-height) % STRIDE, (-width) % STRIDE
        x = tf.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")
        x = 2.0 * x - 1.0
        for layer in (self.stem, self.down1, self.down2):
            x = layer(x, weights)
        for block in self.blocks:
            x = block(x, weights)
        for layer in (self.up1, self.up2):
            x = layer(tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2), weights)
        x = self.to_rgb(reflect(x, 4))[:, :height, :width]
        if self.config.over_guide:
            # Instance norms drop the input's brightness: the guide, added in tanh's argument,
            # brings its colours back, so a night frame stays dark.
            guide = tf.clip_by_value(inputs[..., 3:], GUIDE_MARGIN, 1.0 - GUIDE_MARGIN)
            x += tf.math.atanh(2.0 * guide - 1.0)
        return 0.5 * (tf.tanh(x) + 1.0)


def multiply_adds(config: PainterConfig, height: int, width: int) -> int:
    """The painter's convolution multiply-adds for one frame of height x width: what its speed
    on a CPU follows (the norms and the upsampling are a few per value)."""
    small, middle, large = config.filters
    full = (height + (-height) % STRIDE) * (width + (-width) % STRIDE)
    half, quarter = full // 4, full // 16
    return (
        full * 81 * 6 * small  # stem, 9x9 on frame and guide
        + half * 9 * small * middle  # down1
        + quarter * 9 * middle * large  # down2
        + quarter * 2 * config.residual_blocks * 9 * large * large
        + half * 9 * large * middle  # up1, after the first upsampling
        + full * 9 * middle * small  # up2
        + full * 81 * small * 3  # to RGB
    )


def build_painter(config: PainterConfig) -> Painter:
    """A painter with its weights made (built on a small input)."""
    painter = Painter(config)
    painter(tf.zeros([1, 16, 16, 6]), tf.one_hot([0], len(config.domains)))
    return painter


def painter_inputs(frames, guides):
    """The painter's 6-channel input from frames and colour guides, float [N, H, W, 3] in [0, 1]."""
    return tf.concat([tf.cast(frames, tf.float32), tf.cast(guides, tf.float32)], axis=-1)
