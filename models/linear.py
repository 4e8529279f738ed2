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

    Inputs are feature names and values in the same order. Each name gets a slot the
    first time it is seen; a feature absent from an input is neither scaled, weighted
    nor penalised for it, as in River.
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
        #: Slots of each feature set seen, by its tuple of names.
        self._layouts: dict[tuple[str, ...], list[int]] = {}

    def learn(self, names: tuple[str, ...], values: Iterable[float], label: bool, weight: float = 1.0) -> None:
        """One SGD step; the scaler learns the input first and the step sees it scaled so."""
        layout = self._layout(names)
        counts, means, variances = self.counts, self.means, self.variances
        scaled = []
        for slot, value in zip(layout, values, strict=True):
            count = counts[slot] = counts[slot] + 1
            old_mean = means[slot]
            mean = means[slot] = old_mean + (value - old_mean) / count
            old_variance = variances[slot]
            variance = variances[slot] = old_variance + ((value - old_mean) * (value - mean) - old_variance) / count
            scaled.append((value - mean) / variance**0.5 if variance else 0.0)
        weights = self.weights
        dot = 0.0
        for slot, z in zip(layout, scaled, strict=True):
            dot += weights[slot] * z
        gradient = _log_loss_gradient(label, dot + self.intercept) * weight
        gradient = min(max(gradient, -CLIP_GRADIENT), CLIP_GRADIENT)
        self.intercept -= INTERCEPT_RATE * gradient
        rate, l2 = self.learning_rate, self.l2
        for slot, z in zip(layout, scaled, strict=True):
            weights[slot] -= rate * (z * gradient + l2 * weights[slot])

    def scale(self, names: tuple[str, ...], values: Iterable[float]) -> list[float]:
        """The input standardised by the moments learnt so far (0 for a constant feature)."""
        means, variances = self.means, self.variances
        return [
            (value - means[slot]) / variances[slot] ** 0.5 if variances[slot] else 0.0
            for slot, value in zip(self._layout(names), values, strict=True)
        ]

    def contributions(self, names: tuple[str, ...], scaled: list[float]) -> list[float]:
        """Each feature's weight times its scaled value: the raw score's parts."""
        weights = self.weights
        return [weights[slot] * z for slot, z in zip(self._layout(names), scaled, strict=True)]

    def probability(self, names: tuple[str, ...], scaled: list[float]) -> float:
        """P(label) of an input already scaled by ``scale``."""
        weights = self.weights
        dot = 0.0
        for slot, z in zip(self._layout(names), scaled, strict=True):
            dot += weights[slot] * z
        return _sigmoid(dot + self.intercept)

    def _layout(self, names: tuple[str, ...]) -> list[int]:
        layout = self._layouts.get(names)
        if layout is None:
            layout = self._layouts[names] = [self._slot(name) for name in names]
        return layout

    def _slot(self, name: str) -> int:
        slot = self.slots.get(name)
        if slot is None:
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
