"""The latent shift, the one formula of the project, and what it needs: domains and centroids.

A frame's posterior mean mu moves to z' = mu - a * c_source + b * c_target, where c_target is a
painting domain's centroid and c_source the video's (or zero). The exported SavedModel keeps its
own TensorFlow copy of the formula in its `stylize` graph, so that it loads without vaest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vaest.errors import UserError


@dataclass
class Shift:
    """z' = mu - source_weight * source + target_weight * target."""

    source: np.ndarray  # c_source [latent_dim]
    target: np.ndarray  # c_target [latent_dim]
    source_weight: float  # a
    target_weight: float  # b

    @classmethod
    def toward(cls, source, target, strength: float) -> Shift:
        """The single-strength form a = b = alpha: z' = mu + alpha (c_target - c_source)."""
        return cls(np.asarray(source), np.asarray(target), strength, strength)

    @property
    def offset(self) -> np.ndarray:
        """What the shift adds to every mu, float32 [latent_dim]."""
        moved = self.target_weight * np.asarray(self.target, np.float64) - (
            self.source_weight * np.asarray(self.source, np.float64)
        )
        return moved.astype(np.float32)

    def apply(self, mean) -> np.ndarray:
        """Shifted latents, float32, the shape of mean ([latent_dim] or [N, latent_dim])."""
        source = np.asarray(self.source, np.float32)
        target = np.asarray(self.target, np.float32)
        return (
            np.asarray(mean, np.float32)
            - self.source_weight * source
            + (self.target_weight * target)
        )


def choose_domain(domains: Iterable, kind: str, asked: str | None, flag: str) -> str:
    """The domain of this kind (video or painting) named by --flag; without a name, the only one.

    domains: anything with .name and .kind (a manifest's or an export's domains).
    """
    names = [d.name for d in domains if d.kind == kind]
    listed = ", ".join(names) or "none"
    if asked is not None:
        if asked not in names:
            raise UserError(
                f"--{flag} {asked} is not a {kind} domain; the {kind} domains are: {listed}"
            )
        return asked
    if not names:
        raise UserError(f"the run has no {kind} domain: the shift goes from a video to paintings")
    if len(names) > 1:
        raise UserError(f"the run has several {kind} domains ({listed}): name one with --{flag}")
    return names[0]


class CentroidTally:
    """Per-key sums of latent rows, for centroids and spreads of sets too big to hold."""

    def __init__(self, latent_dim: int):
        self.latent_dim = latent_dim
        self.sums: dict = {}
        self.squares: dict = {}
        self.counts: dict = {}

    def add(self, key, rows) -> None:
        # Row by row, in float64: the same sums in the same order however the rows are batched.
        rows = np.asarray(rows, np.float64).reshape(-1, self.latent_dim)
        sums = self.sums.setdefault(key, np.zeros(self.latent_dim))
        squares = self.squares.setdefault(key, np.zeros(self.latent_dim))
        for row in rows:
            sums += row
            squares += row * row
        self.counts[key] = self.counts.get(key, 0) + len(rows)

    def add_by_key(self, keys, rows) -> None:
        """Rows with one key each."""
        keys, rows = np.asarray(keys), np.asarray(rows)
        for key in np.unique(keys):
            self.add(key.item(), rows[keys == key])

    def count(self, key) -> int:
        return self.counts.get(key, 0)

    def centroid(self, key) -> np.ndarray:
        """The mean row of key (zero when it has none), float32."""
        n = max(self.count(key), 1)
        return (self.sums.get(key, np.zeros(self.latent_dim)) / n).astype(np.float32)

    def std(self, key) -> np.ndarray:
        """Per-dimension standard deviation of key's rows, float32."""
        n = max(self.count(key), 1)
        mean = self.sums.get(key, np.zeros(self.latent_dim)) / n
        variance = self.squares.get(key, np.zeros(self.latent_dim)) / n - mean**2
        return np.sqrt(np.maximum(variance, 0.0)).astype(np.float32)


def weighted_centroid(centroids, counts) -> np.ndarray:
    """The centroid of several sets from their centroids and sizes, float32."""
    counts = np.asarray(counts, np.float64)
    return (counts @ np.asarray(centroids, np.float64) / counts.sum()).astype(np.float32)


def lerp(a, b, t) -> np.ndarray:
    """Straight-line interpolation (1 - t) a + t b; t a scalar or an array of steps.

    Returns shape [D] for a scalar t, [T, D] for T steps.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    return (1.0 - t) * a + t * b


def slerp(a, b, t, eps: float = 1e-6) -> np.ndarray:
    """Spherical interpolation along the great circle from a to b; t as for lerp.

    With angle W between a and b: sin((1 - t) W) / sin W * a + sin(t W) / sin W * b. Unit
    vectors stay unit length, and for Gaussian latents the path keeps a typical norm where
    lerp would pass through the low-norm middle. When a and b are (anti)parallel or zero, the
    great circle is undefined and this falls back to lerp.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return lerp(a, b, t)
    omega = np.arccos(np.clip(np.dot(a, b) / norms, -1.0, 1.0))
    if np.sin(omega) < eps:
        return lerp(a, b, t)
    t = np.asarray(t, dtype=np.float64)[..., None]
    return (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
