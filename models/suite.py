"""Every model of the engine, their pending labels and their live quality, in one object.

The suite is the part of the engine that is shared by all customers: it is what a
checkpoint saves. Per-customer figures live in ``CustomerState``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from river import stats

from models.anomaly import AnomalyDetector
from models.census import Census
from models.churn import ChurnModel
from models.clv import ClvCorrector
from models.evaluation import ClassifierQuality, RegressorQuality
from models.events import Click, Event, Order, Review
from models.features import (
    churn_features,
    click_burst_features,
    describe,
    order_anomaly_features,
    session_features,
    unpack,
)
from models.labels import PendingLabels, Snapshot
from models.propensity import OpenSession, OpenSessions, PropensityModel
from models.segments import RfmCuts, customer_segment
from models.sentiment import SentimentModel, customer_sentiment, positive_label
from models.state import CustomerState
from models.value import CustomerValue

#: The click detector learns from the first clicks of each session only: a bot's 400-click
#: session would otherwise teach it that bursts are normal, and with bots at 1% of sessions
#: their heads alone would lift the learned 99.5% threshold into the bots' own scores.
LEARN_SESSION_CLICKS = 8
CHAMPION_EVERY = 500
#: Buyers a census must hold before its quintiles replace the segment cut points.
MIN_SEGMENT_BUYERS = 200


@dataclass
class ModelSuite:
    horizon_days: int = 90
    seed: int = 42
    churn: ChurnModel = field(default_factory=ChurnModel)
    order_anomaly: AnomalyDetector = field(init=False)
    click_anomaly: AnomalyDetector = field(init=False)
    labels: PendingLabels = field(init=False)
    census: Census = field(default_factory=Census)
    churn_quality: ClassifierQuality = field(default_factory=ClassifierQuality)
    bgnbd_churn_quality: ClassifierQuality = field(default_factory=ClassifierQuality)
    #: The classifier as it is now, scored on each closed snapshot just before learning it.
    #: ``churn_quality`` judges predictions made H days ago; this judges the model that
    #: would be published today, which is what choosing the champion needs.
    current_churn_quality: ClassifierQuality = field(default_factory=ClassifierQuality)
    #: Which churn estimate is published: the one whose live ROC AUC is higher.
    churn_champion: str = "bgnbd"
    orders_quality: RegressorQuality = field(default_factory=RegressorQuality)
    clv_quality: RegressorQuality = field(default_factory=RegressorQuality)
    clv_corrector: ClvCorrector = field(default_factory=ClvCorrector)
    #: The corrector as it is now, scored on each closed snapshot before it learns it.
    corrected_clv_quality: RegressorQuality = field(default_factory=RegressorQuality)
    #: Which CLV is published: ``"base"`` (BG/NBD x Gamma-Gamma) or ``"corrected"``.
    clv_champion: str = "base"
    value: CustomerValue = field(init=False)
    typical_amount: stats.Quantile = field(default_factory=lambda: stats.Quantile(0.5))
    propensity: PropensityModel = field(default_factory=PropensityModel)
    open_sessions: OpenSessions = field(default_factory=OpenSessions)
    propensity_quality: ClassifierQuality = field(default_factory=ClassifierQuality)
    rfm_cuts: RfmCuts | None = None
    sentiment: SentimentModel = field(default_factory=SentimentModel)
    sentiment_quality: ClassifierQuality = field(default_factory=ClassifierQuality)

    def __post_init__(self) -> None:
        self.order_anomaly = AnomalyDetector(warm_up=300, seed=self.seed)
        self.click_anomaly = AnomalyDetector(window_size=1000, warm_up=2000, seed=self.seed + 1)
        self.labels = PendingLabels(horizon_days=self.horizon_days)
        self.value = CustomerValue(horizon_days=self.horizon_days)

    def buffers(self) -> dict[str, int]:
        """Entries in the per-customer buffers the models keep, each capped, for memory gauges."""
        return {
            "open_sessions": self.open_sessions.size,
            "session_samples": self.open_sessions.sample_count(),
            "pending_labels": self.labels.size,
            "census_members": len(self.census.entries),
            "order_book": len(self.value.book),
        }

    # -- before the event changes the state --------------------------------------

    def before_apply(self, state: CustomerState, event: Event) -> dict[str, Any]:
        """Scores that judge the event against the customer's past (order anomalies).

        Census times the event passes are taken first, so no member is seen with an
        event from after the census moment.
        """
        for census_ts in self.census.due(event.ts):
            self._take_census(census_ts)
        if not isinstance(event, Order) or event.status != "placed":
            return {}
        for session, converted in self.open_sessions.on_order(event.customer_id, event.ts):
            self._learn_session(session, converted)
        self.labels.on_order(event.customer_id, event.ts, event.amount)
        self.value.on_order(event.customer_id, event.ts, event.amount)
        typical = self.typical_amount.get() or event.amount
        features = order_anomaly_features(state, event, typical)
        score = self.order_anomaly.score_one(features)
        self.order_anomaly.learn_one(features, score)
        self.typical_amount.update(event.amount)
        return {"anomaly": score, "anomaly_threshold": self.order_anomaly.threshold_value}

    # -- after ----------------------------------------------------------------------

    def after_apply(self, state: CustomerState, event: Event) -> dict[str, Any]:
        """Scores of the customer as they now stand."""
        scores: dict[str, Any] = {}
        if isinstance(event, Click):
            features = click_burst_features(state, event)
            scores["anomaly"] = self.click_anomaly.score_one(features)
            scores["anomaly_threshold"] = self.click_anomaly.threshold_value
            if state.session_clicks <= LEARN_SESSION_CLICKS:
                self.click_anomaly.learn_one(features, scores["anomaly"])
            scores["purchase_propensity"] = self._propensity(state, event)
        else:
            scores["purchase_propensity"] = None
        scores["review_sentiment"] = self._sentiment(state, event) if isinstance(event, Review) else None
        scores.update(self.scores_at(state, event.ts))
        scores["previous_segment"] = state.segment
        scores["segment_changed"] = scores["segment"] != state.segment
        state.segment = scores["segment"]
        if state.orders:
            self.census.record(state, event.ts)
        return scores

    def _propensity(self, state: CustomerState, click: Click) -> float | None:
        """Score the session so far; keep the sample until the session's label is known."""
        x = session_features(state, click.ts)
        score = self.propensity.score(x)
        self.open_sessions.on_click(click.customer_id, click.session_id, click.ts, state.session_clicks, x, score)
        return score

    def _sentiment(self, state: CustomerState, review: Review) -> float | None:
        """Score the text, judge the score by the rating, then learn; fold it into the customer's."""
        score = self.sentiment.predict_then_learn(review.text, review.rating)
        label = positive_label(review.rating)
        if score is not None:
            if label is not None:
                self.sentiment_quality.update(label, score)
            state.sentiment = customer_sentiment(state.sentiment, score)
        return score

    def _learn_session(self, session: OpenSession, converted: bool) -> None:
        weight = 1.0 / max(session.sample_count, 1)  # a session counts once, however long
        for values, score in session.samples():
            if score is not None:
                self.propensity_quality.update(converted, score)
            self.propensity.learn_values(session.names, values, converted, weight)

    def _take_census(self, ts: int) -> None:
        """A label snapshot of every census member as they stand at ``ts``; new RFM quintiles."""
        rfm: tuple[list[float], list[float], list[float]] = ([], [], [])
        for customer_id, state in self.census.members(ts):
            rfm[0].append(state.days_since_last_order(ts) or 0.0)
            rfm[1].append(state.orders)
            rfm[2].append(state.spend)
            value = self.value.scores(customer_id, ts)
            x = self.features(state, ts, value)
            predictions: dict[str, float] = {}
            risk = self.churn.score(x)
            if risk is not None:  # a cold model's guesses would drag its live quality down for months
                predictions["churn_risk"] = risk
            if value:
                predictions.update(
                    expected_orders_h=value["expected_orders_h"],
                    clv_h=value["clv_h"],
                    bgnbd_churn=math.exp(-value["expected_orders_h"]),
                )
            self.labels.take(customer_id, ts, x, predictions)
        if len(rfm[0]) >= MIN_SEGMENT_BUYERS:
            self.rfm_cuts = RfmCuts.from_sample(*rfm)

    def features(self, state: CustomerState, ts: int, value: dict[str, float]) -> dict[str, float]:
        """Churn-model inputs: behaviour from the state, plus BG/NBD's view once fitted."""
        x = churn_features(state, ts)
        if value:
            # BG/NBD's own answers on the log-odds scale (stacking): the classifier starts
            # from them and learns what behaviour adds. Raw probabilities pile up at 0 and
            # 1, which a linear model on standardised inputs handles badly.
            x["bgnbd_no_order_logit"] = _logit(value["p_no_order_h"])
            x["bgnbd_poisson_no_order_logit"] = _logit(math.exp(-value["expected_orders_h"]))
            x["p_alive_logit"] = _logit(value["p_alive"])
        return x

    def scores_at(self, state: CustomerState, ts: int) -> dict[str, Any]:
        """Churn, BG/NBD and CLV scores of a customer as of ``ts``, learning nothing."""
        value = self.value.scores(state.customer_id, ts)
        x = self.features(state, ts, value)
        if value and self.clv_champion == "corrected":
            corrected = self.clv_corrector.predict(x, value["clv_h"])
            if corrected is not None:
                value = {**value, "clv_h": corrected}
        segment = customer_segment(self.rfm_cuts, state, ts)
        return {
            **self._churn(x, value),
            **_value_scores(value, x),
            "segment": segment,
            "sentiment": None if state.sentiment is None else round(state.sentiment, 4),
        }

    def rescore(self, state: CustomerState, event: Event) -> dict[str, Any]:
        """Scores for an event already applied (redelivered), learning and recording nothing.

        Event-level scores (anomaly) belong to the first delivery and are left empty.
        """
        propensity = self.propensity.score(session_features(state, event.ts)) if isinstance(event, Click) else None
        return {
            "anomaly": None,
            "anomaly_threshold": None,
            "purchase_propensity": propensity,
            "review_sentiment": None,
            **self.scores_at(state, event.ts),
            "previous_segment": state.segment,
            "segment_changed": False,
        }

    def _churn(self, x: dict[str, float], value: dict[str, float]) -> dict[str, Any]:
        """The better of the classifier and BG/NBD's exp(-expected orders in H), by live quality.

        Both are scored predict-then-learn on the same resolved labels; the classifier is
        published once warm and ahead, so adding behaviour cannot leave the published
        score worse than BG/NBD alone for long.

        The Poisson form ranks customers like BG/NBD's expected orders, which on CDNOW
        ranks "no order in H" better (ROC AUC 0.763) than the exact P(no order), whose
        P(alive) = 1 for one-time buyers misranks them (0.747); the exact value is
        published as ``p_no_order_h``.
        """
        if self.churn_champion == "classifier" or not value:
            assessed = self.churn.score_with_reasons(x)
            if assessed is not None:
                return {"churn_risk": assessed[0], "churn_reasons": assessed[1]}
        if value:
            reasons = [describe("days_since_last_order", x), describe("expected_orders_h", value)]
            return {"churn_risk": math.exp(-value["expected_orders_h"]), "churn_reasons": reasons}
        return {"churn_risk": None, "churn_reasons": []}

    def advance(self, watermark: int) -> None:
        """Resolve every label whose horizon the event-time watermark has passed; refit value models."""
        for snapshot in self.labels.advance(watermark):
            self._learn(snapshot)
        for session, converted in self.open_sessions.advance(watermark):
            self._learn_session(session, converted)
        self.value.maybe_refit(watermark)

    def forget(self, customer_id: str) -> None:
        """Erase everything the models keep about one customer.

        Pending label snapshots, open sessions, the census copy and the BG/NBD book go;
        what the models learned from them stays, as weights that name nobody.
        """
        self.labels.forget(customer_id)
        self.open_sessions.forget(customer_id)
        self.census.forget(customer_id)
        self.value.forget(customer_id)

    def _learn(self, snapshot: Snapshot) -> None:
        """Score each prediction of a closed snapshot against its truth, then learn from it."""
        predictions, churned = snapshot.predictions, snapshot.churned
        if "churn_risk" in predictions:
            self.churn_quality.update(churned, predictions["churn_risk"])
        features = unpack(snapshot.features)
        current = self.churn.score(features)
        if current is not None:
            self.current_churn_quality.update(churned, current)
            if self.current_churn_quality.count % CHAMPION_EVERY == 0:
                self._choose_churn_champion()
        if "bgnbd_churn" in predictions:
            self.bgnbd_churn_quality.update(churned, predictions["bgnbd_churn"])
            self.orders_quality.update(snapshot.orders_after, predictions["expected_orders_h"])
            self._learn_clv(snapshot, features)
        self.churn.learn_one(features, float(churned))

    def _learn_clv(self, snapshot: Snapshot, features: dict[str, float]) -> None:
        base, spend = snapshot.predictions["clv_h"], snapshot.spend_after
        self.clv_quality.update(spend, base)
        current = self.clv_corrector.predict(features, base)
        if current is not None:
            self.corrected_clv_quality.update(spend, current)
            if self.corrected_clv_quality.count % CHAMPION_EVERY == 0:
                self._choose_clv_champion()
        self.clv_corrector.learn_one(features, base, spend)

    def _choose_clv_champion(self) -> None:
        corrected, base = self.corrected_clv_quality.report(), self.clv_quality.report()
        better = corrected["mae"] < base["mae"] and corrected.get("spearman", 0.0) > base.get("spearman", 0.0)
        self.clv_champion = "corrected" if better else "base"

    def _choose_churn_champion(self) -> None:
        classifier = self.current_churn_quality.report().get("roc_auc", 0.0)
        bgnbd = self.bgnbd_churn_quality.report().get("roc_auc", 0.0)
        self.churn_champion = "classifier" if classifier >= bgnbd else "bgnbd"

    def quality(self) -> dict[str, dict[str, float]]:
        """Live quality per model, for metrics and reports."""
        return {
            "churn_risk": {**self.churn_quality.report(), "published": float(self.churn_champion == "classifier")},
            "churn_risk_current": self.current_churn_quality.report(),
            "churn_risk_bgnbd": {
                **self.bgnbd_churn_quality.report(),
                "published": float(self.churn_champion == "bgnbd"),
            },
            "expected_orders_h": self.orders_quality.report(),
            "purchase_propensity": self.propensity_quality.report(),
            "review_sentiment": self.sentiment_quality.report(),
            "clv_h": {**self.clv_quality.report(), "published": float(self.clv_champion == "base")},
            "clv_h_corrected": {
                **self.corrected_clv_quality.report(),
                "published": float(self.clv_champion == "corrected"),
            },
        }


def _value_scores(value: dict[str, float], x: dict[str, float]) -> dict[str, Any]:
    """BG/NBD and CLV scores with the three factors behind the CLV."""
    if not value:
        return {"p_alive": None, "expected_orders_h": None, "clv_h": None, "clv_reasons": []}
    return {
        "p_alive": value["p_alive"],
        "expected_orders_h": value["expected_orders_h"],
        "clv_h": value["clv_h"],
        "clv_reasons": [
            describe("expected_orders_h", value),
            describe("log_avg_order_value", x),
            describe("p_alive", value),
        ],
    }


def _logit(probability: float) -> float:
    clipped = min(max(probability, 1e-4), 1 - 1e-4)
    return math.log(clipped / (1 - clipped))
