"""Batch norm folded into the layer before it: the VAE as inference runs it.

At inference a batch norm is a fixed per-channel affine map, y = (x - mean) * scale + beta with
scale = gamma / sqrt(variance + epsilon), so it folds into the convolution (or dense layer) that
feeds it: W' = W * scale on the output channels, b' = (b - mean) * scale + beta. The folded model is
the same architecture built with normalization "none" (which has biases and no batch norm), so
each conv is followed directly by its bias and activation, a pattern TensorFlow's graph optimiser
fuses into one kernel, and no moving statistics are left in the graph.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from vaest.models.vae import build_decoder, build_encoder


def batch_norm_affine(bn: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) per channel with bn(x) == x * scale + shift at inference."""
    mean = keras.ops.convert_to_numpy(bn.moving_mean).astype(np.float64)
    variance = keras.ops.convert_to_numpy(bn.moving_variance).astype(np.float64)
    gamma = keras.ops.convert_to_numpy(bn.gamma) if bn.scale else np.ones_like(mean)
    beta = keras.ops.convert_to_numpy(bn.beta) if bn.center else np.zeros_like(mean)
    scale = gamma.astype(np.float64) / np.sqrt(variance + bn.epsilon)
    return scale, beta.astype(np.float64) - mean * scale


def _output_axis(layer) -> int:
    # Conv2DTranspose kernels are [kh, kw, out, in]; Conv2D [kh, kw, in, out]; Dense [in, out].
    return -2 if isinstance(layer, keras.layers.Conv2DTranspose) else -1


def fold_layer(layer, bn) -> list[np.ndarray]:
    """[kernel, bias] of `layer` followed by `bn`, as one layer with a bias."""
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    axis = _output_axis(layer)
    outputs = kernel.shape[axis]
    bias = (
        keras.ops.convert_to_numpy(layer.bias).astype(np.float64)
        if layer.use_bias
        else np.zeros(outputs)
    )
    scale, shift = batch_norm_affine(bn)
    # The decoder's dense `project` is reshaped to [h, w, channels] before its batch norm:
    # channel is its fastest-varying output index.
    repeat = outputs // len(scale)
    scale, shift = np.tile(scale, repeat), np.tile(shift, repeat)
    shape = [1] * kernel.ndim
    shape[axis] = outputs
    folded_kernel = kernel * scale.reshape(shape)
    folded_bias = bias * scale + shift
    return [folded_kernel.astype(np.float32), folded_bias.astype(np.float32)]


def _copy_folded(source: keras.Model, target: keras.Model) -> None:
    """Give target (built without batch norm) source's weights, folding each `<name>_bn`."""
    names = {layer.name for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        original = source.get_layer(layer.name)
        if f"{layer.name}_bn" in names:
            layer.set_weights(fold_layer(original, source.get_layer(f"{layer.name}_bn")))
        else:
            layer.set_weights(original.get_weights())


def fold_vae(vae) -> tuple[keras.Model, keras.Model]:
    """(encoder, decoder) computing what vae's do at inference, with batch norm folded away."""
    config = vae.config
    if config.normalization == "none":
        return vae.encoder, vae.decoder
    plain = dataclasses.replace(config, normalization="none")
    encoder, decoder = build_encoder(plain), build_decoder(plain)
    _copy_folded(vae.encoder, encoder)
    _copy_folded(vae.decoder, decoder)
    return encoder, decoder
