"""Progressive (predict-then-learn) quality of every model, over a recent window.

Each prediction is scored against its label when the label resolves, before the
model learns from it, so the figures are honest out-of-sample estimates that follow
the model as it drifts. A rolling window keeps them about the present.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from river import metrics
from scipy.stats import rankdata, spearmanr

DEFAULT_WINDOW = 5_000
CALIBRATION_BINS = 10
PROBABILITY_FLOOR = 1e-15


@dataclass
class ClassifierQuality:
    """ROC AUC, log loss and accuracy of a probability against 0/1 labels.

    Updated for every resolved label (one per propensity snapshot, per census member), so
    an update keeps the window's losses and hit count in plain deques and sums the losses
    only when a report asks, instead of updating and reverting River's rolling means.
    """

    window: int = DEFAULT_WINDOW
    count: int = 0
    roc_auc: metrics.RollingROCAUC = field(init=False)
    #: Log loss and whether the 0.5 cut was right, per prediction in the window, oldest first.
    losses: deque[float] = field(init=False)
    hits: deque[bool] = field(init=False)
    hit_count: int = 0
    #: Since the start, per tenth of probability: [predictions, their sum, positives].
    calibration: list[list[float]] = field(init=False)

    def __post_init__(self) -> None:
        self.roc_auc = metrics.RollingROCAUC(window_size=self.window)
        self.losses = deque(maxlen=self.window)
        self.hits = deque(maxlen=self.window)
        self.calibration = [[0.0, 0.0, 0.0] for _ in range(CALIBRATION_BINS)]

    def update(self, label: bool, probability: float) -> None:
        self.count += 1
        self.roc_auc.update(label, probability)
        if self.count % self.window == 0:
            # River's rolling AUC holds every update in Python lists until it is read; a
            # read per window keeps them bounded however seldom a report is asked for.
            self.roc_auc.get()
        self.losses.append(_log_loss(label, probability))
        if len(self.hits) == self.window:
            self.hit_count -= self.hits[0]  # leaves the window with the append below
        hit = (probability >= 0.5) == bool(label)
        self.hits.append(hit)
        self.hit_count += hit
        cell = self.calibration[min(int(probability * CALIBRATION_BINS), CALIBRATION_BINS - 1)]
        cell[0] += 1
        cell[1] += probability
        cell[2] += bool(label)

    def calibration_table(self) -> list[dict[str, float]]:
        """Mean predicted probability against the observed rate, per non-empty tenth."""
        return [
            {"bin": index / CALIBRATION_BINS, "n": n, "predicted": total / n, "observed": positives / n}
            for index, (n, total, positives) in enumerate(self.calibration)
            if n
        ]

    def report(self) -> dict[str, float]:
        if not self.count:
            return {}
        return {
            "roc_auc": self.roc_auc.get(),
            "log_loss": math.fsum(self.losses) / len(self.losses),
            "accuracy": self.hit_count / len(self.hits),
            "labels": float(self.count),
        }


@dataclass
class RegressorQuality:
    """MAE and Spearman rank correlation of a prediction against a numeric label."""

    window: int = DEFAULT_WINDOW
    count: int = 0
    pairs: deque[tuple[float, float]] = field(init=False)

    def __post_init__(self) -> None:
        self.pairs = deque(maxlen=self.window)

    def update(self, label: float, prediction: float) -> None:
        self.count += 1
        self.pairs.append((label, prediction))

    def report(self) -> dict[str, float]:
        if not self.pairs:
            return {}
        truth, predicted = np.array(self.pairs).T
        out = {"mae": float(np.mean(np.abs(truth - predicted))), "labels": float(self.count)}
        if len(self.pairs) > 2 and np.ptp(truth) > 0 and np.ptp(predicted) > 0:
            out["spearman"] = float(spearmanr(truth, predicted).statistic)
        return out


def _log_loss(label: bool, probability: float) -> float:
    """Binary log loss, the probability clamped away from 0 and 1 as River's ``LogLoss`` does."""
    p = min(max(probability, PROBABILITY_FLOOR), 1.0 - PROBABILITY_FLOOR)
    return -math.log(p if label else 1.0 - p)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of a whole sample (Mann-Whitney form, ties counted half).

    >>> round(roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])), 2)
    0.75
    """
    ranks = rankdata(scores)
    positives = labels.astype(bool)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
