"""Differentiable distances between images' VGG16 features: content, Gram matrices, and the
sliced Wasserstein distance of whole feature distributions.

Used to train the refiner to paint (its output for a latent shifted toward the paintings should
have the paintings' texture statistics: Gatys et al. 2016; Johnson et al. 2016 for a network
trained this way) and by --method optimize, which minimises them per frame (Ruder et al. 2016).
The features are those of vaest.measure.features (VGG16 blocks 1-3, by default HED's edge-tuned
weights), taken after relu1_2, relu2_2 and relu3_3.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vaest.measure.features import TextureFeatures


def gram_matrices(features):
    """[N, H, W, C] -> [N, C, C]: mean over positions of F[c] F[d], as metrics.gram_matrix."""
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], -1, shape[3]])
    positions = tf.cast(tf.shape(flat)[1], features.dtype)
    return tf.matmul(flat, flat, transpose_a=True) / positions


class FrozenVGG:
    """The VGG16 trunk of a TextureFeatures, frozen: what every loss here takes its maps from."""

    def __init__(self, features: TextureFeatures):
        self.trunk = features.trunk
        self.trunk.trainable = False
        self.mean_bgr = tf.constant(features.mean_bgr, tf.float32)

    def features(self, images):
        """RGB float images in [0, 1] -> the trunk's feature maps, differentiably."""
        images = tf.convert_to_tensor(images, tf.float32)
        return self.trunk(tf.reverse(images, axis=[-1]) * 255.0 - self.mean_bgr, training=False)


class FeatureDistance(FrozenVGG):
    """Per image, mean |F(image) - F(reference)|^2 / mean F(reference)^2 for one VGG16 layer F
    (0: relu1_2, 1: relu2_2, 2: relu3_3): a content term that is scale-free like StyleLoss."""

    def __init__(self, features: TextureFeatures, layer: int = 2):
        super().__init__(features)
        self.layer = layer

    def __call__(self, images, references):
        both = self.features(tf.concat([images, references], 0))
        return self.between(*tf.split(both[self.layer], 2))

    def between(self, ours, theirs):
        """The distance between two images' feature maps of this layer."""
        theirs = tf.stop_gradient(theirs)
        scale = tf.reduce_mean(tf.square(theirs), axis=[1, 2, 3]) + 1e-6
        return tf.reduce_mean(tf.square(ours - theirs), axis=[1, 2, 3]) / scale


class StyleLoss(FrozenVGG):
    """Per image, the mean over layers of |G(image) - G_paintings|^2 / mean(G_paintings^2).

    Dividing by the target's own magnitude makes every layer count alike (their Gram entries
    differ by orders of magnitude), and makes the loss 1 for an image whose features are zero.
    """

    def __init__(self, features: TextureFeatures, target: list[np.ndarray]):
        super().__init__(features)
        self.targets = [tf.constant(g, tf.float32) for g in target]

    def __call__(self, images):
        return gram_loss(self.features(images), self.targets)


def gram_loss(maps, targets):
    """[N]: the mean over layers of |G(maps) - G_target|^2 / mean(G_target^2), see StyleLoss."""
    terms = [
        tf.reduce_mean(tf.square(gram_matrices(f) - g[None]), axis=[1, 2])
        / tf.reduce_mean(tf.square(g))
        for f, g in zip(maps, targets, strict=True)
    ]
    return tf.add_n(terms) / len(terms)


POOL_POSITIONS = 32768  # feature vectors kept per domain and layer: the distribution's sample
SAMPLE_POSITIONS = 2048  # feature vectors compared per image and layer, drawn at random
DIRECTIONS = 64  # random projections per layer and step


class SlicedWasserstein(FrozenVGG):
    """Per image, the sliced Wasserstein distance between the distribution of its VGG16 feature
    vectors and its target painting domain's, averaged over relu1_2, relu2_2 and relu3_3 (Heitz
    et al., CVPR 2021). It matches whole feature distributions, where a mean Gram matrix of
    several paintings is no painting's texture.

    Per layer, SAMPLE_POSITIONS random feature vectors of the image and as many of its domain's
    pool are projected on DIRECTIONS random unit directions, sorted along each direction and
    compared value by value (random subsets keep the sort affordable on a CPU; the estimate
    stays unbiased over steps). Each term is divided by the target projections' mean square, so
    the layers count alike. Every draw comes from a seed, so a resumed training repeats them.
    """

    def __init__(self, features: TextureFeatures, pools: list[np.ndarray]):
        """pools: per layer, [domains, POOL_POSITIONS, C] feature vectors of each domain's
        tiles (zeros for a domain that is never a target); see pools_from_tiles."""
        super().__init__(features)
        self.pools = [tf.constant(p, tf.float32) for p in pools]

    def __call__(self, maps, domain_ids, seed):
        """maps: self.features(images); domain_ids [N] int32; seed int32 [2] -> [N]."""
        return sliced_wasserstein(maps, self.pools, domain_ids, seed)


def sliced_wasserstein(
    maps, pools, domain_ids, seed, positions=SAMPLE_POSITIONS, directions=DIRECTIONS
):
    """[N]: SlicedWasserstein's distance of each image's feature maps to its domain's pool.

    maps: per layer [N, H, W, C] (H and W may be unknown: the painter runs at any size);
    pools: per layer [domains, positions, C]; domain_ids [N] int32; seed int32 [2], from which
    every random draw is made; positions: feature vectors compared per image and layer (all of
    them when a map of known size has fewer; drawn with replacement from one of unknown size);
    directions: projections per layer.
    """
    terms = []
    for layer, (layer_maps, pool) in enumerate(zip(maps, pools, strict=True)):
        height, width = layer_maps.shape[1], layer_maps.shape[2]
        images, channels = tf.shape(layer_maps)[0], layer_maps.shape[-1]
        draw = seed + tf.constant([0, 1000], tf.int32) * layer
        dynamic = height is None or width is None
        if dynamic:
            count = tf.shape(layer_maps)[1] * tf.shape(layer_maps)[2]
            size = positions
        else:
            count = height * width
            size = min(count, positions)
        ours = tf.reshape(layer_maps, [images, -1, channels])
        if dynamic or size < count:
            keep = tf.random.stateless_uniform([size], draw, 0, count, tf.int32)
            ours = tf.gather(ours, keep, axis=1)
        picks = tf.random.stateless_uniform(
            [images, size], draw + [2, 0], 0, pool.shape[1], tf.int32
        )
        rows = tf.broadcast_to(domain_ids[:, None], tf.shape(picks))
        theirs = tf.gather_nd(pool, tf.stack([rows, picks], axis=-1))
        units = tf.random.stateless_normal([channels, directions], draw + [1, 0])
        units = units / tf.norm(units, axis=0, keepdims=True)
        # [N, directions, size]: sorting along the last axis is the fast one
        ours = tf.sort(tf.matmul(units, ours, transpose_a=True, transpose_b=True))
        theirs = tf.sort(tf.matmul(units, theirs, transpose_a=True, transpose_b=True))
        scale = tf.reduce_mean(tf.square(theirs), axis=[1, 2]) + 1e-6
        terms.append(tf.reduce_mean(tf.square(ours - theirs), axis=[1, 2]) / scale)
    return tf.add_n(terms) / len(terms)


def pools_from_tiles(
    features: TextureFeatures, tiles: dict[int, np.ndarray], domains: int, seed: int = 0
) -> list[np.ndarray]:
    """Per layer, [domains, POOL_POSITIONS, C]: a random sample of the feature vectors of each
    painting domain's tiles (float32 [N,H,W,3] in [0,1], keyed by domain id)."""
    random = np.random.default_rng(seed)
    pools = None
    for domain, images in tiles.items():
        maps = [m.reshape(-1, m.shape[-1]) for m in features(images)]
        if pools is None:
            pools = [np.zeros((domains, POOL_POSITIONS, m.shape[-1]), np.float32) for m in maps]
        for layer, vectors in enumerate(maps):
            pools[layer][domain] = vectors[random.integers(0, len(vectors), POOL_POSITIONS)]
    return pools
