"""Anomaly scores in [0, 1]: Half-Space Trees on features relative to the customer.

Half-Space Trees are fast, bounded in memory and learn online, on features in [0, 1].
A min-max scaler would clip a 50x order into the same top slice as the largest normal
order; standardising and then squashing with a logistic keeps the ordinary mass in the
middle and leaves room at the edges where anomalies fall. Scores are published after a warm-up.

The alert threshold is a running high quantile of the scores of the events the detector
learns from, the traffic it treats as normal, so it adapts to the shop. A quantile of
every published score would fail as soon as anomalies are more than 1 - quantile of the
traffic: a few bot sessions of 400 clicks each are, and the threshold would climb into
the bots' own scores.
"""

from __future__ import annotations

import math

from river import preprocessing, stats

from models.hst import HalfSpaceTrees


class AnomalyDetector:
    """Predict-then-learn anomaly scorer for one kind of event (orders, or clicks).

    >>> import random
    >>> rng = random.Random(0)
    >>> detector = AnomalyDetector(warm_up=10, seed=1)
    >>> for _ in range(600):
    ...     detector.learn_one({"amount_vs_usual": rng.gauss(0, 0.3), "items": rng.gauss(1, 0.5)})
    >>> round(detector.score_one({"amount_vs_usual": 0.1, "items": 1.0}), 2)
    0.76
    >>> round(detector.score_one({"amount_vs_usual": 3.0, "items": 1.0}), 2)
    0.98
    """

    def __init__(
        self,
        n_trees: int = 25,
        height: int = 8,
        window_size: int = 250,
        warm_up: int = 500,
        quantile: float = 0.995,
        seed: int = 42,
    ) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.warm_up = warm_up
        self.quantile = quantile
        self.seed = seed
        # River's StandardScaler | squash | HalfSpaceTrees, the steps called directly.
        self.scaler = preprocessing.StandardScaler()
        self.trees: HalfSpaceTrees | None = None  # built on the first point, as River does
        self.threshold = stats.Quantile(quantile)
        self.seen = 0

    def score_one(self, x: dict[str, float]) -> float | None:
        """Anomaly score of ``x``, or ``None`` while warming up."""
        if self.seen < self.warm_up or self.trees is None:
            return None
        return float(self.trees.score_point(self._point(x, self.trees.features)))

    def learn_one(self, x: dict[str, float], score: float | None = None) -> None:
        """Learn ``x`` as normal; ``score`` is the score it was given, for the threshold."""
        self.scaler.learn_one(x)
        if self.trees is None:
            self.trees = HalfSpaceTrees(list(x), self.n_trees, self.height, self.window_size, self.seed)
        self.trees.learn_point(self._point(x, self.trees.features))
        self.seen += 1
        if score is not None:
            self.threshold.update(score)

    def _point(self, x: dict[str, float], names: list[str]) -> list[float]:
        """River's ``StandardScaler.transform_one``, then ``squash``, in ``names`` order, in one pass."""
        means, variances = self.scaler.means, self.scaler.vars
        point = []
        for name in names:
            variance = variances[name]
            value = (x[name] - means[name]) / variance**0.5 if variance else 0.0
            point.append(squash(value))
        return point

    @property
    def threshold_value(self) -> float | None:
        value = self.threshold.get()
        return None if value is None else float(value)


def squash(value: float) -> float:
    """Map a standardised value into (0, 1); 3 standard deviations land near 0.82."""
    return 1.0 / (1.0 + math.exp(-max(min(value, 60.0), -60.0) / 2.0))
