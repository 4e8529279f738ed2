"""Online logistic regression on standardised features, River's arithmetic on lists.

The churn and propensity models are River's ``StandardScaler`` followed by its
``LogisticRegression`` with plain SGD and an L2 penalty. Both score at nearly every
event and learn from every resolved label, and most of River's cost there is dict work
per feature. ``OnlineLogit`` takes the same steps in the same order on lists indexed
by a slot per feature, so its scores, weights and moments equal River's bit for bit
(``tests/unit/test_linear.py`` compares them, feature sets that grow included).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: River's defaults for its logistic regression: a constant intercept rate, and a gradient
#: clip far beyond anything a log loss gives.
INTERCEPT_RATE = 0.01
CLIP_GRADIENT = 1e12


class OnlineLogit:
    """A standard scaler and a logistic regression learnt one input at a time.

    Inputs are dicts of features, or names and values in the same order. Each name gets
    a slot the first time it is seen; a feature absent from an input is neither scaled,
    weighted nor penalised for it, as in River.
    """

    def __init__(self, learning_rate: float = 0.01, l2: float = 0.0) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.slots: dict[str, int] = {}
        self.counts: list[int] = []
        self.means: list[float] = []
        self.variances: list[float] = []
        self.weights: list[float] = []
        self.intercept = 0.0

    def learn(self, names: Iterable[str], values: Iterable[float], label: bool, weight: float = 1.0) -> None:
        """One SGD step; the scaler learns the input first and the step sees it scaled so."""
        slots, counts, means, variances = self.slots, self.counts, self.means, self.variances
        used, scaled = [], []
        for name, value in zip(names, values, strict=True):
            slot = slots.get(name)
            if slot is None:
                slot = self._new_slot(name)
            count = counts[slot] = counts[slot] + 1
            old_mean, old_variance = means[slot], variances[slot]
            mean = means[slot] = old_mean + (value - old_mean) / count
            variance = variances[slot] = old_variance + ((value - old_mean) * (value - mean) - old_variance) / count
            used.append(slot)
            scaled.append((value - mean) / variance**0.5 if variance else 0.0)
        weights = self.weights
        dot = 0.0
        for slot, z in zip(used, scaled, strict=True):
            dot += weights[slot] * z
        gradient = _log_loss_gradient(label, dot + self.intercept) * weight
        gradient = min(max(gradient, -CLIP_GRADIENT), CLIP_GRADIENT)
        self.intercept -= INTERCEPT_RATE * gradient
        rate, l2 = self.learning_rate, self.l2
        for slot, z in zip(used, scaled, strict=True):
            weights[slot] -= rate * (z * gradient + l2 * weights[slot])

    def probability(self, x: dict[str, float]) -> float:
        """P(label | x), scaling ``x`` by the moments learnt so far (0 for a constant feature)."""
        slots, means, variances, weights = self.slots, self.means, self.variances, self.weights
        dot = 0.0
        for name, value in x.items():
            slot = slots.get(name)
            if slot is None:
                slot = self._new_slot(name)
            variance = variances[slot]
            dot += weights[slot] * ((value - means[slot]) / variance**0.5 if variance else 0.0)
        return _sigmoid(dot + self.intercept)

    def explain(self, x: dict[str, float]) -> tuple[float, list[float]]:
        """P(label | x) and each feature's part of the raw score (weight x scaled value), in ``x``'s order."""
        slots, means, variances, weights = self.slots, self.means, self.variances, self.weights
        parts = []
        for name, value in x.items():
            slot = slots.get(name)
            if slot is None:
                slot = self._new_slot(name)
            variance = variances[slot]
            parts.append(weights[slot] * ((value - means[slot]) / variance**0.5 if variance else 0.0))
        dot = 0.0
        for part in parts:
            dot += part
        return _sigmoid(dot + self.intercept), parts

    def _new_slot(self, name: str) -> int:
        slot = self.slots[name] = len(self.weights)
        self.counts.append(0)
        self.means.append(0.0)
        self.variances.append(0.0)
        self.weights.append(0.0)
        return slot


def _log_loss_gradient(label: bool, raw: float) -> float:
    """The log loss's gradient at the raw score ``raw``, as River's ``optim.losses.Log``."""
    sign = 1 if label else -1
    z = raw * sign
    if z > 18.0:
        return math.exp(-z) * -sign
    if z < -18.0:
        return float(-sign)
    return -sign / (math.exp(z) + 1.0)


def _sigmoid(raw: float) -> float:
    """River's ``utils.math.sigmoid``: 0 and 1 beyond +-30."""
    if raw < -30:
        return 0.0
    if raw > 30:
        return 1.0
    return 1 / (1 + math.exp(-raw))
