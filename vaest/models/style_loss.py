"""A texture loss: how far the Gram matrices of images' VGG16 features are from the paintings'.

Used to train the refiner to paint: its output for a latent shifted toward the paintings should
have the paintings' texture statistics (Gatys et al. 2016; Johnson et al. 2016 for a network
trained this way). The features are those of vaest.measure.features (VGG16 blocks 1-3, by
default HED's edge-tuned weights), taken after relu1_2, relu2_2 and relu3_3.
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


def vgg_features(trunk, mean_bgr, images):
    """RGB float images in [0, 1] -> the trunk's feature maps, differentiably."""
    return trunk(tf.reverse(images, axis=[-1]) * 255.0 - mean_bgr, training=False)


class FeatureDistance:
    """Per image, mean |F(image) - F(reference)|^2 / mean F(reference)^2 for one VGG16 layer F
    (0: relu1_2, 1: relu2_2, 2: relu3_3): a content term that is scale-free like StyleLoss."""

    def __init__(self, features: TextureFeatures, layer: int = 2):
        self.trunk = features.trunk
        self.trunk.trainable = False
        self.mean_bgr = tf.constant(features.mean_bgr, tf.float32)
        self.layer = layer

    def __call__(self, images, references):
        both = vgg_features(self.trunk, self.mean_bgr, tf.concat([images, references], 0))
        ours, theirs = tf.split(both[self.layer], 2)
        theirs = tf.stop_gradient(theirs)
        scale = tf.reduce_mean(tf.square(theirs), axis=[1, 2, 3]) + 1e-6
        return tf.reduce_mean(tf.square(ours - theirs), axis=[1, 2, 3]) / scale


class StyleLoss:
    """Per image, the mean over layers of |G(image) - G_paintings|^2 / mean(G_paintings^2).

    Dividing by the target's own magnitude makes every layer count alike (their Gram entries
    differ by orders of magnitude), and makes the loss 1 for an image whose features are zero.
    """

    def __init__(self, features: TextureFeatures, target: list[np.ndarray]):
        self.trunk = features.trunk
        self.trunk.trainable = False
        self.mean_bgr = tf.constant(features.mean_bgr, tf.float32)
        self.targets = [tf.constant(g, tf.float32) for g in target]
        self.scales = [float(np.mean(np.square(g))) for g in target]

    def features(self, images):
        """RGB float images in [0, 1] -> the three feature maps, differentiably."""
        return vgg_features(self.trunk, self.mean_bgr, images)

    def __call__(self, images):
        terms = [
            tf.reduce_mean(tf.square(gram_matrices(f) - g[None]), axis=[1, 2]) / scale
            for f, g, scale in zip(self.features(images), self.targets, self.scales, strict=True)
        ]
        return tf.add_n(terms) / len(terms)
