"""Image-quality and latent-space figures, in numpy.

Images are float arrays in [0, 1] (uint8 is accepted and scaled), shaped [N, H, W, 3] or a single
[H, W, 3]. Per-image functions always return an array of shape [N]; averaging over images is
left to the caller, who may also want a spread or a median.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from skimage.color import rgb2lab
from skimage.filters import sobel
from skimage.metrics import structural_similarity

from vaest.io.imaging import as_float_images

# Rec. 709 luma weights on the gamma-encoded values (the HD video standard, as in sRGB).
LUMA_709 = np.array([0.2126, 0.7152, 0.0722])


def _as_float(images) -> np.ndarray:
    return as_float_images(images, np.float64)  # figures are summed over many pixels


def _batch(images) -> np.ndarray:
    """[H, W, 3] or [N, H, W, 3] -> float [N, H, W, 3]."""
    images = _as_float(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images shaped [N, H, W, 3] or [H, W, 3], not {images.shape}")
    return images


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _batch(a), _batch(b)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    return a, b


def luminance(images) -> np.ndarray:
    """Rec. 709 luma Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' of RGB in [0, 1]: [..., 3] -> [...]."""
    return _as_float(images) @ LUMA_709


def psnr(a, b, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per image, 10 log10(data_range^2 / MSE) in dB.

    The MSE is over all pixels and channels of an image. Identical images give +inf.
    """
    a, b = _pair(a, b)
    mse = np.mean((a - b) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def ssim(a, b) -> np.ndarray:
    """Structural similarity per image, over colour channels, with data range 1.

    Uses the settings of Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5 and
    population covariances, so images need sides of at least 11 pixels. 1 means identical.
    """
    a, b = _pair(a, b)
    return np.array(
        [
            structural_similarity(
                x,
                y,
                channel_axis=-1,
                data_range=1.0,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
            for x, y in zip(a, b, strict=True)
        ]
    )


def _edges(images: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of each image's luminance: [N, H, W, 3] -> [N, H, W]."""
    return np.stack([sobel(y) for y in luminance(images)])


def edge_correlation(output, reference) -> np.ndarray:
    """Structure kept: Pearson correlation of the Sobel edge magnitude of luminance, per image.

    1 means the edges are where the reference has them, with proportional strength; 0 means no
    relation. A flat image has no edges and gives nan.
    """
    output, reference = _pair(output, reference)
    out_edges, ref_edges = _edges(output), _edges(reference)
    return np.array(
        [
            np.corrcoef(x.ravel(), y.ravel())[0, 1] if x.std() > 0 and y.std() > 0 else np.nan
            for x, y in zip(out_edges, ref_edges, strict=True)
        ]
    )


def gradient_energy(images) -> np.ndarray:
    """Mean squared Sobel gradient magnitude of luminance, per image: higher is sharper."""
    return np.mean(_edges(_batch(images)) ** 2, axis=(1, 2))


def sharpness_ratio(output, reference) -> np.ndarray:
    """Gradient energy of output / gradient energy of reference, per image.

    1 means as sharp as the reference, below 1 blurrier, above 1 harsher (or noisier). A flat
    reference gives inf (or nan if the output is flat too).
    """
    output, reference = _pair(output, reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        return gradient_energy(output) / gradient_energy(reference)


@dataclass
class ColourStats:
    """Mean and covariance of CIELAB (L*, a*, b*) values pooled over every pixel of a set."""

    mean: np.ndarray  # [3]
    covariance: np.ndarray  # [3, 3]
    pixels: int

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))  # rounding can dip below 0


def colour_statistics(images) -> ColourStats:
    """Pool the Lab colour distribution of a set of RGB images.

    `images` is one array ([N, H, W, 3] or [H, W, 3]) or an iterable of such arrays (batches),
    so a large set can be streamed. Sums are accumulated, so the result does not depend on
    how the set is split into batches.
    """
    if isinstance(images, np.ndarray) or not isinstance(images, Iterable):
        images = [images]
    total, outer, count = np.zeros(3), np.zeros((3, 3)), 0
    for batch in images:
        lab = rgb2lab(_batch(batch)).reshape(-1, 3)
        total += lab.sum(axis=0)
        outer += lab.T @ lab
        count += len(lab)
    if count == 0:
        raise ValueError("no images to take colour statistics of")
    mean = total / count
    return ColourStats(mean=mean, covariance=outer / count - np.outer(mean, mean), pixels=count)


def pooled_colour_statistics(parts: Iterable[ColourStats]) -> ColourStats:
    """The colour statistics of the union of several sets, from each set's statistics."""
    parts = list(parts)
    count = sum(p.pixels for p in parts)
    if count == 0:
        raise ValueError("no images to take colour statistics of")
    mean = sum(p.mean * p.pixels for p in parts) / count
    second = sum((p.covariance + np.outer(p.mean, p.mean)) * p.pixels for p in parts) / count
    return ColourStats(mean=mean, covariance=second - np.outer(mean, mean), pixels=count)


def colour_distance(a: ColourStats, b: ColourStats) -> float:
    """Wasserstein-2 distance between Gaussians fitted to two Lab colour distributions.

    W2^2 = |m_a - m_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2), the same form as the
    Frechet distance of FID. The result is in Lab units (about 1 = a just noticeable
    difference), 0 for the same statistics. It sees shifts of the mean colour and changes of
    contrast and colour spread. To judge a stylization, compare distance(stylized, paintings)
    with distance(input frames, paintings).
    """
    root_a = _psd_sqrt(a.covariance)
    cross = _psd_sqrt(root_a @ b.covariance @ root_a)
    squared = np.sum((a.mean - b.mean) ** 2) + np.trace(a.covariance + b.covariance - 2 * cross)
    return float(np.sqrt(max(squared, 0.0)))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix; stable when it is singular."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gram_matrix(features) -> np.ndarray:
    """Texture statistics: G[c, d] = mean over positions of F[c] F[d], per image.

    features [N, H, W, C] (or [H, W, C]) -> [N, C, C]; dividing by H*W makes sizes comparable.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim == 3:
        features = features[None]
    n, h, w, c = features.shape
    flat = features.reshape(n, h * w, c)
    return np.matmul(flat.transpose(0, 2, 1), flat) / (h * w)  # BLAS: einsum is 30x slower


def gram_distance(features_a, features_b) -> float:
    """Texture difference of two sets: mean squared difference of their pooled Gram matrices.

    Each set's Gram matrices (gram_matrix) are averaged over its images, so the sets may have
    different sizes and image counts, but need the same number of channels. 0 for equal
    texture statistics.
    """
    gram_a = gram_matrix(features_a).mean(axis=0)
    gram_b = gram_matrix(features_b).mean(axis=0)
    if gram_a.shape != gram_b.shape:
        raise ValueError(f"channel counts differ: {gram_a.shape[0]} vs {gram_b.shape[0]}")
    return float(np.mean((gram_a - gram_b) ** 2))


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties count 1/2.

    Computed from ranks (the Mann-Whitney U statistic), exact with ties. labels are booleans
    or 0/1; both classes must be present.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.size} scores but {labels.size} labels")
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("roc_auc needs both positive and negative labels")
    ranks = stats.rankdata(scores)  # ties get their average rank
    u = ranks[labels].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def pca_2d(x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project rows of x [N, D] onto their two main directions of variance.

    Returns (projected [N, 2], components [2, D] with unit rows, mean [D]), so that
    projected = (x - mean) @ components.T. Each component's sign is fixed so that its largest
    coefficient is positive, which makes plots reproducible.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"pca_2d needs at least 2 rows and 2 columns, not shape {x.shape}")
    mean = x.mean(axis=0)
    centred = x - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])
    components = components * signs[:, None]
    return centred @ components.T, components, mean
