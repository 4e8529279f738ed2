"""Churn risk: P(no order within H days), an online logistic regression with reasons.

Logistic regression on standardised features gives calibrated probabilities when it is
well specified, and its score splits exactly into per-feature contributions
(weight x standardised value), which become the reasons shown to people.
"""

from __future__ import annotations

from models.features import describe
from models.linear import OnlineLogit


class ChurnModel:
    """Online classifier of "no order within the horizon".

    Parameters
    ----------
    learning_rate
        SGD step of the logistic regression.
    l2
        Ridge penalty; keeps weights of rare features small.
    warm_up
        Labels to learn before the score is published (``None`` until then); a quarter of
        them must be of each class, since a model that has seen one class cannot rank.

    >>> model = ChurnModel(warm_up=2)  # one feature here; the engine passes churn_features()
    >>> for gap, label in [(5.0, 0), (80.0, 1), (3.0, 0), (95.0, 1)] * 200:
    ...     model.learn_one({"days_since_last_order": gap}, label)
    >>> round(model.score({"days_since_last_order": 90.0}), 2)
    0.89
    >>> risk, reasons = model.score_with_reasons({"days_since_last_order": 90.0, "usual_gap_days": 14.0})
    >>> reasons
    ['days_since_last_order=90 (usual gap 14)']
    """

    def __init__(self, learning_rate: float = 0.01, l2: float = 1e-4, warm_up: int = 200) -> None:
        self.warm_up = warm_up
        self.logit = OnlineLogit(learning_rate, l2)
        self.labels_seen = 0
        self.positives = 0

    @property
    def warm(self) -> bool:
        fewer = min(self.positives, self.labels_seen - self.positives)
        return self.labels_seen >= self.warm_up and fewer >= self.warm_up // 4

    def learn_one(self, x: dict[str, float], y: float) -> None:
        self.logit.learn(x, x.values(), bool(y))
        self.labels_seen += 1
        self.positives += bool(y)

    def score(self, x: dict[str, float]) -> float | None:
        """The published churn risk, or ``None`` while warming up."""
        return self.logit.probability(x) if self.warm else None

    def score_with_reasons(self, x: dict[str, float], top: int = 3) -> tuple[float, list[str]] | None:
        """The published risk and the features pushing it up the most, in readable form."""
        if not self.warm:
            return None
        risk, parts = self.logit.explain(x)
        ranked = sorted(zip(parts, x, strict=True), reverse=True)
        return risk, [describe(name, x) for part, name in ranked[:top] if part > 0]
