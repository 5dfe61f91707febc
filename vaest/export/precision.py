"""bfloat16 twins of the exported networks, for CPUs that compute bfloat16 natively.

On a CPU with AVX512_BF16 or AMX, oneDNN runs bfloat16 convolutions about 3x faster than float32
(bench/mogrify.py). A twin is the same architecture built under Keras' mixed_bfloat16 policy
(float32 weights, bfloat16 arithmetic) with the float32 network's weights; its outputs stay
within 40 dB PSNR of the float32 graph's (tests/test_export_precision.py). The float32 graphs
remain the reference; mogrify_video.py --precision chooses (vaest.device.resolve_precision).
"""

from __future__ import annotations

import dataclasses

import keras

from vaest.models.refiner import build_refiner
from vaest.models.vae import build_decoder, build_encoder


def _built_in_bfloat16(build, config, source: keras.Model) -> keras.Model:
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        twin = build(config)
    finally:
        keras.config.set_dtype_policy(previous)
    twin.set_weights(source.get_weights())
    return twin


def bfloat16_twins(config, encoder, decoder, refiner=None, refiner_config=None):
    """(encoder, decoder, refiner) in bfloat16, from the float32 inference networks (the
    encoder and decoder as export.fold.fold_vae gives them: no batch norm)."""
    plain = dataclasses.replace(config, normalization="none")
    twins = [_built_in_bfloat16(b, plain, m) for b, m in ((build_encoder, encoder),
                                                          (build_decoder, decoder))]  # fmt: skip
    if refiner is not None:
        twins.append(_built_in_bfloat16(build_refiner, refiner_config, refiner))
    else:
        twins.append(None)
    return tuple(twins)
