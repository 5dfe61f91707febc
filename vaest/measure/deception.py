"""The deception rate: the share of stylized frames a style classifier takes for paintings.

Sanakoyeu et al. (ECCV 2018) judge a style transfer by how often a classifier trained to tell the
target painter's works apart attributes the stylized images to that painter. Here the classifier
works on per-image feature vectors the caller computes (texture statistics such as VGG Gram
matrices), so this module needs no network: it is an L2-regularised logistic regression on
z-scored features, fitted with L-BFGS.

The negatives are the source's frames *and* those frames recoloured in many ways toward the
paintings' palettes, with graded photographs beside them (vaest.measure.negatives): otherwise a
colour grade alone would count as painted. `negatives_with_recoloured` joins the two sets.

A rate is only as good as its classifier: a held-out part of the data (a seeded split, per class)
measures the classifier, and one that cannot separate paintings from frames is marked unusable,
with a reason, so that its rate is reported as "not separable: <reason>" and never as a number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from scipy import optimize, special

from vaest.measure.negatives import COPIES, negative_images

MIN_PER_CLASS = 4
MIN_BALANCED_ACCURACY = 0.75
HELD_OUT_FRACTION = 0.25
# Strong by default: with few paintings and many features this keeps the classifier near a
# comparison of the two classes' means, which generalises, instead of one that fits noise.
L2 = 1.0
# Features that are constant over the training rows are left unscaled (divided by 1).
CONSTANT_FEATURE_STD = 1e-12


@dataclass(frozen=True, eq=False)
class StyleClassifier:
    """Logistic regression P(painting | features) = sigmoid(<w, (x - mean) / scale> + bias).

    `accuracy` and `balanced_accuracy` (mean of the two classes' recalls) are measured on the
    held-out rows, with this very classifier, which was fitted on the other rows only. When
    `usable` is False, `reason` says why and the rates of this classifier are None.
    """

    usable: bool
    reason: str
    painting_count: int
    negative_count: int
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    feature_mean: np.ndarray | None = None
    feature_scale: np.ndarray | None = None
    weights: np.ndarray | None = None
    bias: float = 0.0

    def painting_probability(self, features) -> np.ndarray:
        """P(painting) for each row of `features` [N, D]."""
        if self.weights is None:
            raise ValueError(f"this style classifier was not fitted: {self.reason}")
        features = _feature_matrix(features, "features", len(self.weights))
        standardised = (features - self.feature_mean) / self.feature_scale
        return special.expit(standardised @ self.weights + self.bias)


def _feature_matrix(features, name: str, dimensions: int | None = None) -> np.ndarray:
    features = np.asarray(features, np.float64)
    if features.ndim != 2:
        raise ValueError(f"{name} must be [N, D] feature vectors, got shape {features.shape}")
    if dimensions is not None and features.shape[1] != dimensions:
        raise ValueError(f"{name} have {features.shape[1]} features, expected {dimensions}")
    if not np.isfinite(features).all():
        raise ValueError(f"{name} contain non-finite values")
    return features


def negatives_with_recoloured(frame_features, recoloured_features) -> np.ndarray:
    """The negatives for `fit_style_classifier`: frames, and frames recoloured to the paintings'
    Lab statistics, so that the classifier must find paint in texture, not in the palette."""
    frames = _feature_matrix(frame_features, "frame features")
    recoloured = _feature_matrix(recoloured_features, "recoloured features", frames.shape[1])
    return np.concatenate([frames, recoloured])


def _held_out_mask(count: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random `fraction` of `count` rows (at least one, and at least one left to train on)."""
    held_out_count = min(max(1, round(fraction * count)), count - 1)
    mask = np.zeros(count, bool)
    mask[rng.permutation(count)[:held_out_count]] = True
    return mask


def _fit_logistic_regression(features, labels, l2: float):
    """Weights and bias minimising the class-balanced mean log loss + l2 / 2 * ||weights||^2."""
    sample_weights = np.where(labels == 1, 0.5 / labels.sum(), 0.5 / (labels == 0).sum())

    def loss_and_gradient(parameters):
        weights, bias = parameters[:-1], parameters[-1]
        logits = features @ weights + bias
        # log(1 + e^z) - y z is the log loss of a logistic model with logit z and label y
        loss = sample_weights @ (np.logaddexp(0.0, logits) - labels * logits)
        loss += 0.5 * l2 * weights @ weights
        residual = sample_weights * (special.expit(logits) - labels)
        gradient = np.append(features.T @ residual + l2 * weights, residual.sum())
        return loss, gradient

    start = np.zeros(features.shape[1] + 1)
    result = optimize.minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1])


def fit_style_classifier(
    painting_features,
    negative_features,
    *,
    l2: float = L2,
    held_out_fraction: float = HELD_OUT_FRACTION,
    min_per_class: int = MIN_PER_CLASS,
    min_balanced_accuracy: float = MIN_BALANCED_ACCURACY,
    seed: int = 0,
) -> StyleClassifier:
    """Fit P(painting) on all but a held-out part of each class and measure it on that part.

    Unusable (with a reason) when either class has fewer than `min_per_class` rows or the held-out
    balanced accuracy is below `min_balanced_accuracy`. The split depends only on `seed`.
    """
    paintings = _feature_matrix(painting_features, "painting features")
    negatives = _feature_matrix(negative_features, "negative features", paintings.shape[1])
    counts = {"painting_count": len(paintings), "negative_count": len(negatives)}
    needed = max(min_per_class, 2)  # one row to hold out and one to train on, at least
    if min(len(paintings), len(negatives)) < needed:
        reason = (
            f"too few samples: {len(paintings)} paintings and {len(negatives)} negatives, "
            f"need at least {needed} of each"
        )
        return StyleClassifier(usable=False, reason=reason, **counts)

    features = np.concatenate([paintings, negatives])
    labels = np.concatenate([np.ones(len(paintings)), np.zeros(len(negatives))])
    rng = np.random.default_rng(seed)
    held_out = np.concatenate(
        [
            _held_out_mask(len(paintings), held_out_fraction, rng),
            _held_out_mask(len(negatives), held_out_fraction, rng),
        ]
    )
    train_features, train_labels = features[~held_out], labels[~held_out]
    mean = train_features.mean(axis=0)
    scale = train_features.std(axis=0)
    scale = np.where(scale > CONSTANT_FEATURE_STD, scale, 1.0)
    weights, bias = _fit_logistic_regression((train_features - mean) / scale, train_labels, l2)
    classifier = StyleClassifier(
        usable=True,
        reason="",
        feature_mean=mean,
        feature_scale=scale,
        weights=weights,
        bias=bias,
        **counts,
    )

    predicted = classifier.painting_probability(features[held_out]) > 0.5
    truth = labels[held_out] == 1
    accuracy = float(np.mean(predicted == truth))
    balanced = float((np.mean(predicted[truth]) + np.mean(~predicted[~truth])) / 2)
    if balanced >= min_balanced_accuracy:
        return replace(classifier, accuracy=accuracy, balanced_accuracy=balanced)
    reason = (
        f"held-out balanced accuracy {balanced:.2f} is below {min_balanced_accuracy:.2f}: "
        "the features do not tell the paintings from the frames"
    )
    return replace(
        classifier, usable=False, reason=reason, accuracy=accuracy, balanced_accuracy=balanced
    )


def fit_classifier_on(
    describe, paintings, frames, seed: int = 0, copies: int = COPIES
) -> StyleClassifier:
    """fit_style_classifier on `describe(images)` rows ([N, D] per [N, H, W, 3] images: any
    network's descriptors) of a painting domain's images against frames, `copies` gradings of
    each toward the paintings' palettes and graded photographs
    (vaest.measure.negatives.negative_images), all [N, H, W, 3] at one size."""
    negatives = negatives_with_recoloured(
        describe(frames), describe(negative_images(frames, paintings, copies, seed))
    )
    return fit_style_classifier(describe(paintings), negatives, seed=seed)


def fit_painting_classifier(
    texture, paintings, frames, seed: int = 0, copies: int = COPIES
) -> StyleClassifier:
    """fit_classifier_on VGG style descriptors (features.style_descriptors with `texture`)."""
    from vaest.measure.features import style_descriptors

    return fit_classifier_on(
        partial(style_descriptors, texture), paintings, frames, seed=seed, copies=copies
    )


def deception_rate(classifier: StyleClassifier, features) -> float | None:
    """Share of rows with P(painting) > 0.5, in [0, 1]; None when the classifier is unusable."""
    if not classifier.usable:
        return None
    probabilities = classifier.painting_probability(features)
    if len(probabilities) == 0:
        raise ValueError("the deception rate of no images is undefined")
    return float(np.mean(probabilities > 0.5))


def deception_figures(classifier: StyleClassifier, stylized_features, input_features) -> dict:
    """The figures to report: the stylized frames' rate, the input frames' rate (the baseline the
    stylized rate must beat), the classifier's held-out accuracies, and a note saying what they
    mean or why there are none."""
    figures = {
        "deception_rate": deception_rate(classifier, stylized_features),
        "input_deception_rate": deception_rate(classifier, input_features),
        "classifier_accuracy": classifier.accuracy,
        "classifier_balanced_accuracy": classifier.balanced_accuracy,
    }
    if not classifier.usable:
        figures["note"] = f"not separable: {classifier.reason}"
    else:
        figures["note"] = (
            "share of frames a style classifier takes for paintings (held-out balanced accuracy "
            f"{classifier.balanced_accuracy:.2f}; {classifier.painting_count} paintings, "
            f"{classifier.negative_count} frames and recoloured frames)"
        )
    return figures
