"""Alerts: rules over every score record, with hysteresis, cooldown and readable reasons.

One situation gives one alert:
- level rules (``churn_risk_vip``, ``high_value_customer``) raise when the score crosses
  ``raise`` and re-arm only once it falls below ``clear``;
- event rules (``anomalous_order``, ``click_burst``, ``unhappy_vip``, ``segment_drop``)
  alert once per situation (an order, a session, a reviewed product, a segment move);
- after any alert the rule stays quiet for that customer for ``cooldown_hours`` of event
  time. What a rule remembers per customer lives in the customer's state, so it moves
  with the partition and survives restarts.

Every alert carries a ``dedupe_key`` naming its situation and an ``alert_id`` derived from
the rule, customer and triggering event: a redelivered event re-sends the same alert
(``Alerting.replay``) and consumers dedupe on ``alert_id``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from river import stats

from models.alert_rules import THRESHOLD_SCORES, Rule, RuleSet
from models.events import Click, Event, Order, Review
from models.jsonio import dumps, loads
from models.state import CustomerState
from models.timeutil import MS_PER_MINUTE, to_iso

ALERT_SCHEMA_VERSION = 1
LIVE_WINDOW = 10_000
#: Values a score needs before its percentile thresholds mean anything.
LIVE_MIN = 500


class LiveDistribution:
    """The last ``window`` published values of one score, and the percentiles asked of them."""

    def __init__(self, percentiles: set[float], window: int = LIVE_WINDOW) -> None:
        self.quantiles = {p: stats.RollingQuantile(p / 100, window) for p in percentiles}
        self.count = 0

    def update(self, value: float) -> None:
        self.count += 1
        for quantile in self.quantiles.values():
            quantile.update(value)

    def get(self, percentile: float) -> float | None:
        return self.quantiles[percentile].get() if self.count >= LIVE_MIN else None


@dataclass(slots=True)
class RuleMemory:
    """What one rule remembers about one customer."""

    raised: bool = False
    last_alert_ts: int | None = None
    last_value: float | None = None
    last_situation: str | None = None
    #: The last alert sent, as JSON text: it is only ever sent again (``Alerting.replay``),
    #: and the text takes under a third of the memory of the record's dicts in a cached state.
    last_alert: str | None = None

    @classmethod
    def of(cls, state: CustomerState, rule: str) -> RuleMemory:
        stored = state.alerts.get(rule)
        return cls(*stored) if stored else cls()

    def save(self, state: CustomerState, rule: str) -> None:
        """Keep what the rule remembers in the state; nothing while that is nothing, as for most customers."""
        ts, value, situation, alert = self.last_alert_ts, self.last_value, self.last_situation, self.last_alert
        if self.raised or not (ts is None and value is None and situation is None and alert is None):
            state.alerts[rule] = [self.raised, ts, value, situation, alert]
        elif rule in state.alerts:
            del state.alerts[rule]


@dataclass(frozen=True)
class Trigger:
    score: float | None
    threshold: float | None
    situation: str
    reason: str


class Alerting:
    """Evaluates a rule set on each score record; counts what it sent and held back."""

    def __init__(self, rules: RuleSet, horizon_days: int = 90) -> None:
        self.rules = rules
        self.horizon_days = horizon_days
        wanted: dict[str, set[float]] = {}
        for score, percentile in rules.percentiles():
            wanted.setdefault(score, set()).add(percentile)
        self.live = {score: LiveDistribution(percentiles) for score, percentiles in wanted.items()}
        #: (rule, "sent" | "cooldown") -> count
        self.stats: Counter[tuple[str, str]] = Counter()
        #: Published anomaly scores per event type: a "model" threshold is trusted after LIVE_MIN.
        self.anomaly_scores: Counter[str] = Counter()
        #: Per event class: the rules that look at it, with their checks, in rule-set order.
        self._rules_for = {
            kind: [
                (rule, _CHECKS[rule.name]) for rule in rules.rules.values() if _ONLY_ON.get(rule.name) in (None, kind)
            ]
            for kind in (Order, Click, Review)
        }
        #: Per event class: (score in a record, its live distribution) for the scores followed.
        self._followed = {
            kind: [(field, live) for name, live in self.live.items() if (field := _feeding(name, kind))]
            for kind in (Order, Click, Review)
        }

    def evaluate(
        self, state: CustomerState, event: Event, scores: dict[str, Any], emitted_at: int
    ) -> list[dict[str, Any]]:
        """The alerts this score record raises; updates the customer's rule memory."""
        alerts = []
        # A rule for another type of event neither fires nor changes its memory on this one.
        for rule, check in self._rules_for[type(event)]:
            memory = RuleMemory.of(state, rule.name)
            trigger = check(self, rule, memory, state, event, scores)
            if trigger is not None:
                alert = self._send(rule, memory, state, event, scores, trigger, emitted_at)
                if alert is not None:
                    alerts.append(alert)
            memory.save(state, rule.name)
        self._observe(event, scores)
        return alerts

    def replay(self, state: CustomerState, event: Event, emitted_at: int) -> list[dict[str, Any]]:
        """The alerts ``event`` raised when it was first applied, for a redelivered event."""
        alerts = []
        for rule in self.rules.rules:
            sent = RuleMemory.of(state, rule).last_alert
            alert = loads(sent) if sent is not None else None
            if alert is not None and alert["event_id"] == event.event_id:
                alerts.append({**alert, "emitted_at": to_iso(emitted_at)})
        return alerts

    def _send(
        self,
        rule: Rule,
        memory: RuleMemory,
        state: CustomerState,
        event: Event,
        scores: dict[str, Any],
        trigger: Trigger,
        emitted_at: int,
    ) -> dict[str, Any] | None:
        cooling = memory.last_alert_ts is not None and event.ts - memory.last_alert_ts < rule.cooldown_ms
        if cooling or trigger.situation == memory.last_situation:
            self.stats[(rule.name, "cooldown")] += 1
            return None
        self.stats[(rule.name, "sent")] += 1
        alert = {
            "schema_version": ALERT_SCHEMA_VERSION,
            "alert_id": hashlib.blake2b(
                f"{rule.name}|{state.customer_id}|{event.event_id}".encode(), digest_size=10
            ).hexdigest(),
            "rule": rule.name,
            "severity": rule.severity,
            "customer_id": state.customer_id,
            "ts": to_iso(event.ts),
            "emitted_at": to_iso(emitted_at),
            "score": trigger.score,
            "threshold": trigger.threshold,
            "reason": trigger.reason,
            "dedupe_key": f"{rule.name}:{state.customer_id}:{trigger.situation}",
            "event_id": event.event_id,
            "scores": scores,
        }
        memory.last_alert_ts, memory.last_situation = event.ts, trigger.situation
        memory.last_alert = dumps(alert).decode()
        return alert

    def _observe(self, event: Event, scores: dict[str, Any]) -> None:
        if scores.get("anomaly") is not None:
            self.anomaly_scores[event.type] += 1
        for field, live in self._followed[type(event)]:
            value = scores.get(field)
            if value is not None:
                live.update(value)

    def threshold(self, rule: Rule, key: str, scores: dict[str, Any], event: Event | None = None) -> float | None:
        """The current value of a rule's threshold; ``None`` while it cannot be known."""
        spec = rule.thresholds.get(key)
        if spec is None:
            return None
        if spec.value is not None:
            return spec.value
        if spec.is_model:
            # The detector's running quantile is rough until it has seen a few hundred scores.
            value = scores.get("anomaly_threshold")
            settled = event is not None and self.anomaly_scores[event.type] >= LIVE_MIN
            return float(value) if value is not None and settled else None
        live = self.live.get(THRESHOLD_SCORES[(rule.name, key)])
        return None if live is None or spec.percentile is None else live.get(spec.percentile)

    def is_vip(self, rule: Rule, scores: dict[str, Any]) -> bool:
        clv, floor = scores.get("clv_h"), self.threshold(rule, "vip", scores)
        return clv is not None and floor is not None and clv >= floor


# -- the rules -------------------------------------------------------------------------


def _level(
    alerting: Alerting, rule: Rule, memory: RuleMemory, value: float | None, scores: dict[str, Any]
) -> float | None:
    """Hysteresis: the raise level when ``value`` crosses it while armed, else ``None``."""
    raise_at, clear_at = alerting.threshold(rule, "raise", scores), alerting.threshold(rule, "clear", scores)
    if value is None or raise_at is None or clear_at is None:
        return None
    if memory.raised:
        memory.raised = value >= clear_at
        return None
    if value < raise_at:
        return None
    return raise_at


def _churn_risk_vip(
    alerting: Alerting, rule: Rule, memory: RuleMemory, state: CustomerState, event: Event, scores: dict[str, Any]
) -> Trigger | None:
    risk = scores.get("churn_risk")
    previous, memory.last_value = memory.last_value, risk
    # A customer already raised is followed down to ``clear`` even if no longer a VIP.
    watched = memory.raised or alerting.is_vip(rule, scores)
    level = _level(alerting, rule, memory, risk, scores) if watched else None
    if level is None or risk is None:
        return None
    memory.raised = True
    was = f", was {previous:.2f}" if previous is not None else ""
    why = "; ".join(scores.get("churn_reasons") or [])
    reason = f"churn risk {risk:.2f}{was}: {why}; predicted {alerting.horizon_days}-day value ${scores['clv_h']:,.0f}"
    return Trigger(risk, level, f"raised@{event.ts}", reason)


def _high_value_customer(
    alerting: Alerting, rule: Rule, memory: RuleMemory, state: CustomerState, event: Event, scores: dict[str, Any]
) -> Trigger | None:
    clv = scores.get("clv_h")
    level = _level(alerting, rule, memory, clv, scores)
    if level is None or clv is None:
        return None
    memory.raised = True
    why = "; ".join(scores.get("clv_reasons") or [])
    spec = rule.thresholds["raise"]
    rank = f"enters the top {100 - spec.percentile:g}%" if spec.percentile is not None else "reaches"
    reason = f"predicted {alerting.horizon_days}-day value ${clv:,.0f} {rank} (threshold ${level:,.0f}): {why}"
    return Trigger(clv, level, f"raised@{event.ts}", reason)


def _anomalous_order(
    alerting: Alerting, rule: Rule, memory: RuleMemory, state: CustomerState, event: Event, scores: dict[str, Any]
) -> Trigger | None:
    score, threshold = scores.get("anomaly"), alerting.threshold(rule, "raise", scores, event)
    if not isinstance(event, Order) or score is None or threshold is None or score < threshold:
        return None
    usual = state.spend / state.orders if state.orders else 0.0
    reason = (
        f"order {event.order_id}: ${event.amount:,.2f} for {event.items} item(s), anomaly {score:.2f} "
        f"(threshold {threshold:.2f}); the customer's average order is ${usual:,.2f} over {state.orders} orders"
    )
    return Trigger(score, threshold, f"order:{event.order_id}", reason)


def _click_burst(
    alerting: Alerting, rule: Rule, memory: RuleMemory, state: CustomerState, event: Event, scores: dict[str, Any]
) -> Trigger | None:
    score, threshold = scores.get("anomaly"), alerting.threshold(rule, "raise", scores, event)
    if not isinstance(event, Click) or score is None or threshold is None or score < threshold:
        return None
    if state.session_clicks < rule.options.get("min_session_clicks", 1):
        return None
    start = state.session_start_ts if state.session_start_ts is not None else event.ts
    minutes = (event.ts - start) / MS_PER_MINUTE
    reason = (
        f"{state.session_clicks} clicks in session {event.session_id} within {minutes:.1f} min, "
        f"anomaly {score:.2f} (threshold {threshold:.2f})"
    )
    return Trigger(score, threshold, f"session:{event.session_id}", reason)


def _unhappy_vip(
    alerting: Alerting, rule: Rule, memory: RuleMemory, state: CustomerState, event: Event, scores: dict[str, Any]
) -> Trigger | None:
    if not isinstance(event, Review) or not alerting.is_vip(rule, scores):
        return None
    sentiment = scores.get("review_sentiment")
    max_rating, max_sentiment = rule.options.get("max_rating"), alerting.threshold(rule, "max_sentiment", scores)
    low_rating = max_rating is not None and event.rating <= max_rating
    negative = sentiment is not None and max_sentiment is not None and sentiment <= max_sentiment
    if not (low_rating or negative):
        return None
    tone = f", sentiment {sentiment:.2f}" if sentiment is not None else ""
    excerpt = event.text[:80] + ("..." if len(event.text) > 80 else "")
    reason = (
        f'rated {event.rating}/5{tone} on product {event.product_id}: "{excerpt}"; '
        f"predicted {alerting.horizon_days}-day value ${scores['clv_h']:,.0f}"
    )
    score = sentiment if sentiment is not None else float(event.rating)
    return Trigger(score, max_sentiment, f"product:{event.product_id}", reason)


def _segment_drop(
    alerting: Alerting, rule: Rule, memory: RuleMemory, state: CustomerState, event: Event, scores: dict[str, Any]
) -> Trigger | None:
    before, after = scores.get("previous_segment"), scores.get("segment")
    if before not in rule.options["from"] or after not in rule.options["to"]:
        return None
    recency = scores.get("recency_days")
    reason = (
        f"segment {before} -> {after}: {recency or 0:.0f} days since the last order, "
        f"{state.orders} orders, ${state.spend:,.0f} spent"
    )
    return Trigger(recency, None, f"{before}->{after}@{event.ts}", reason)


_CHECKS = {
    "churn_risk_vip": _churn_risk_vip,
    "high_value_customer": _high_value_customer,
    "anomalous_order": _anomalous_order,
    "click_burst": _click_burst,
    "unhappy_vip": _unhappy_vip,
    "segment_drop": _segment_drop,
}
#: Rules that look at one type of event only, and are skipped for the others.
_ONLY_ON: dict[str, type[Event]] = {"anomalous_order": Order, "click_burst": Click, "unhappy_vip": Review}
#: Live distributions fed from the score of the same name, whatever the event.
_SAME_NAME = ("churn_risk", "clv_h", "review_sentiment")


def _feeding(live: str, kind: type[Event]) -> str | None:
    """The score of a ``kind`` event's record that feeds the live distribution ``live``.

    Anomaly scores are followed per event type: ``click_anomaly`` from clicks' ``anomaly``.
    """
    if live in _SAME_NAME:
        return live
    return "anomaly" if live == f"{kind.type}_anomaly" else None
