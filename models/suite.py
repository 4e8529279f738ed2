"""Every model of the engine, their pending labels and their live quality, in one object.

The suite is the part of the engine that is shared by all customers: it is what a
checkpoint saves. Per-customer figures live in ``CustomerState``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from river import stats

from models.anomaly import AnomalyDetector
from models.churn import ChurnModel
from models.evaluation import ClassifierQuality
from models.events import Click, Event, Order
from models.features import churn_features, click_burst_features, order_anomaly_features
from models.labels import PendingLabels, Resolution
from models.state import CustomerState

LEARN_SESSION_CLICKS = 20


@dataclass
class ModelSuite:
    horizon_days: int = 90
    seed: int = 42
    churn: ChurnModel = field(default_factory=ChurnModel)
    order_anomaly: AnomalyDetector = field(init=False)
    click_anomaly: AnomalyDetector = field(init=False)
    labels: PendingLabels = field(init=False)
    churn_quality: ClassifierQuality = field(default_factory=ClassifierQuality)
    typical_amount: stats.Quantile = field(default_factory=lambda: stats.Quantile(0.5))

    def __post_init__(self) -> None:
        self.order_anomaly = AnomalyDetector(warm_up=300, seed=self.seed)
        self.click_anomaly = AnomalyDetector(window_size=1000, warm_up=2000, seed=self.seed + 1)
        self.labels = PendingLabels(horizon_days=self.horizon_days)

    # -- before the event changes the state --------------------------------------

    def before_apply(self, state: CustomerState, event: Event) -> dict[str, Any]:
        """Scores that judge the event against the customer's past (order anomalies)."""
        if not isinstance(event, Order) or event.status != "placed":
            return {}
        for resolution in self.labels.on_order(event.customer_id, event.ts, event.amount):
            self._learn(resolution)
        typical = self.typical_amount.get() or event.amount
        features = order_anomaly_features(state, event, typical)
        score = self.order_anomaly.score_one(features)
        self.order_anomaly.learn_one(features)
        self.typical_amount.update(event.amount)
        return {"anomaly": score, "anomaly_threshold": self.order_anomaly.threshold_value}

    # -- after ----------------------------------------------------------------------

    def after_apply(self, state: CustomerState, event: Event) -> dict[str, Any]:
        """Scores of the customer as they now stand, and a label snapshot when due."""
        scores: dict[str, Any] = {}
        if isinstance(event, Click):
            features = click_burst_features(state, event)
            scores["anomaly"] = self.click_anomaly.score_one(features)
            scores["anomaly_threshold"] = self.click_anomaly.threshold_value
            # One 400-click bot session would fill the trees' reference window and teach
            # them that bursts are normal: learn only from the human-sized head of a session.
            if state.session_clicks <= LEARN_SESSION_CLICKS:
                self.click_anomaly.learn_one(features)
        x = churn_features(state, event.ts)
        risk = self.churn.score(x)
        scores["churn_risk"] = risk
        scores["churn_reasons"] = self.churn.reasons(x) if risk is not None else []
        if state.orders and self.labels.due(event.customer_id, event.ts):
            self.labels.take(event.customer_id, event.ts, x, {"churn_risk": self.churn.predict_proba_one(x)})
        return scores

    def advance(self, watermark: int) -> None:
        """Resolve every label whose horizon the event-time watermark has passed."""
        for resolution in self.labels.advance(watermark):
            self._learn(resolution)

    def _learn(self, resolution: Resolution) -> None:
        if resolution.kind != "churn":
            return
        snapshot = resolution.snapshot
        label = float(resolution.label)  # type: ignore[arg-type]
        self.churn_quality.update(label == 1.0, snapshot.predictions["churn_risk"])
        self.churn.learn_one(snapshot.features, label)

    def quality(self) -> dict[str, dict[str, float]]:
        """Live quality per model, for metrics and reports."""
        return {"churn_risk": self.churn_quality.report()}
