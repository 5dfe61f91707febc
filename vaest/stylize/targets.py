"""--target: one painting domain, a mix of several, or a timeline of them.

    wave                        one domain
    wave:0.7,scream:0.3         a mix: c_target is the weighted mean of the centroids
    wave@0,scream@4.5,candy@9   a timeline: from each time (seconds of the input) that target
    wave:1,candy:1@0,scream@6   a timeline whose entries are mixes (+ may join a mix's parts too)

Weights are normalised to sum to 1. In a timeline, a mix's parts run until the part with @.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from vaest.errors import UserError
from vaest.latent import choose_domain


def smoothstep(t) -> np.ndarray:
    """3t^2 - 2t^3 on [0, 1]: rises monotonically from 0 to 1 with zero slope at both ends."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass
class TargetSchedule:
    """c_target over the input's time: a mix of painting domains at each key time.

    Key k holds from times[k] on; with a transition of T seconds the target moves from key k-1
    to key k over [times[k] - T, times[k]] (shortened when the keys are closer than T), so that
    from each key's time the target is that key's mix. The move is a lerp of the mixes' weights,
    eased by smoothstep, and so a lerp of the centroids: the shift is linear in c_target, so z'
    moves along a straight line, and halfway through a transition from a to b the target is the
    50/50 mix of a and b exactly. Slerp's reason to be, keeping a Gaussian sample's typical
    norm, does not hold for centroids, which are means of many latents.
    """

    names: list[str]  # the domains the keys mix
    centroids: np.ndarray  # [M, latent_dim], one row per name
    times: np.ndarray  # [K] seconds, increasing
    weights: np.ndarray  # [K, M]: each key's mix, rows summing to 1
    transition: float = 0.0  # seconds
    label: str = ""  # the target or timeline in words, for the log

    @property
    def constant(self) -> bool:
        return len(self.times) == 1

    def weights_at(self, times) -> np.ndarray:
        """Each time's mix of the domains, [T, M] (rows sum to 1): what a refiner conditioned on
        the painting domain would take as a weighted domain embedding."""
        times = np.atleast_1d(np.asarray(times, np.float64))
        key = np.searchsorted(self.times, times, side="right") - 1  # the last key begun
        upcoming = np.clip(key + 1, 0, len(self.times) - 1)
        current = np.clip(key, 0, None)
        begins = np.maximum(self.times[upcoming] - self.transition, self.times[current])
        span = self.times[upcoming] - begins
        progress = np.where(span > 0, (times - begins) / np.where(span > 0, span, 1.0), 0.0)
        t = smoothstep(np.where(upcoming > current, progress, 0.0))[:, None]
        return (1.0 - t) * self.weights[current] + t * self.weights[upcoming]

    def at(self, times) -> np.ndarray:
        """c_target at each time, float32 [T, latent_dim]."""
        return (self.weights_at(times) @ np.asarray(self.centroids, np.float64)).astype(np.float32)


@dataclass(frozen=True)
class TargetKey:
    """One entry of --target: a mix of domains (weights summing to 1), from `time` on."""

    time: float
    mix: tuple[tuple[str, float], ...]

    def describe(self) -> str:
        if len(self.mix) == 1:
            return self.mix[0][0]
        return " + ".join(f"{weight:.2g} {name}" for name, weight in self.mix)


# A plain decimal number: float() would also take "1_0" (10), "nan" and "inf".
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Entries are joined by , or + -- but not the + of an exponent (1e+5).
SEPARATOR = re.compile(r",|(?<![\d.][eE])\+")


def _number(text: str, what: str, spec: str) -> float:
    value = float(text) if NUMBER.fullmatch(text.strip()) else math.nan
    if not math.isfinite(value):
        raise UserError(f"--target {spec!r}: {what} {text!r} is not a number")
    return value


def _mix(parts: list[str], spec: str) -> tuple[tuple[str, float], ...]:
    weights: dict[str, float] = {}
    for part in parts:
        name, colon, weight_text = part.partition(":")
        name = name.strip()
        if not name:
            raise UserError(f"--target {spec!r}: a domain name is missing")
        if name in weights:
            raise UserError(f"--target {spec!r}: {name} appears twice in one mix")
        weight = _number(weight_text, "the weight", spec) if colon else 1.0
        if weight <= 0:
            raise UserError(f"--target {spec!r}: the weight of {name} must be positive")
        weights[name] = weight
    # Scaled by the largest first, so that huge weights (1e308 twice) cannot sum to infinity.
    largest = max(weights.values())
    total = sum(weight / largest for weight in weights.values())
    return tuple((name, weight / largest / total) for name, weight in weights.items())


def parse_target(spec: str | None) -> list[TargetKey] | None:
    """The keys of a --target spec, checked for syntax; None when no target is named."""
    if spec is None or not spec.strip():
        return None
    parts = [p.strip() for p in SEPARATOR.split(spec)]
    if any(not p for p in parts):
        raise UserError(f"--target {spec!r}: an empty entry")
    if not any("@" in p for p in parts):
        return [TargetKey(0.0, _mix(parts, spec))]
    keys, pending = [], []
    for part in parts:
        if "@" not in part:
            pending.append(part)
            continue
        head, _, time_text = part.partition("@")
        time = _number(time_text, "the time", spec)
        if time < 0:
            raise UserError(f"--target {spec!r}: the time {time_text} is negative")
        if keys and time <= keys[-1].time:
            raise UserError(f"--target {spec!r}: the times must increase ({time_text} is not)")
        keys.append(TargetKey(time, _mix([*pending, head], spec)))
        pending = []
    if pending:
        raise UserError(f"--target {spec!r}: every timeline entry needs @SECONDS ({pending[0]})")
    return keys


def check_transition(transition: float) -> None:
    if not (math.isfinite(transition) and transition >= 0):
        raise UserError(f"--transition must be a non-negative number of seconds, not {transition}")


def target_schedule(exported, spec: str | None, transition: float) -> TargetSchedule:
    """The schedule of c_target for --target spec, its domains checked against the export."""
    check_transition(transition)
    keys = parse_target(spec)
    if keys is None:  # the only painting domain
        only = choose_domain(exported.domains.values(), "painting", None, "target")
        keys = [TargetKey(0.0, ((only, 1.0),))]
    names = []
    for key in keys:
        for name, _ in key.mix:
            choose_domain(exported.domains.values(), "painting", name, "target")
            if name not in names:
                names.append(name)
    weights = np.zeros((len(keys), len(names)))
    for row, key in enumerate(keys):
        for name, weight in key.mix:
            weights[row, names.index(name)] = weight
    return TargetSchedule(
        names,
        np.stack([exported.domains[name].centroid for name in names]),
        np.array([key.time for key in keys]),
        weights,
        transition,
        describe(keys, transition),
    )


def describe(keys: list[TargetKey], transition: float) -> str:
    """For the log: the target, or the timeline with its transition."""
    if len(keys) == 1:
        return keys[0].describe()
    timeline = ", ".join(f"{key.describe()} from {key.time:g} s" for key in keys)
    return f"{timeline} ({transition:g} s transitions)"
