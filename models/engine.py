"""The engine: one event in, the records it causes out.

The same ``Engine`` runs inside the Faust worker and in ``pulse backtest``; it never
reads the wall clock except to stamp ``emitted_at``, so a log gives the same scores
through either path.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from models import numerics
from models.alert_rules import RuleSet, load_rules
from models.alerts import Alerting
from models.events import Event
from models.privacy import Pseudonymiser
from models.records import score_record
from models.scores import state_scores
from models.state import CustomerState, Source
from models.suite import ModelSuite
from models.timeutil import MS_PER_HOUR, now_ms

UNPINNED = (
    "numpy was loaded before the models package, so it runs this CPU's own kernels: BG/NBD fits, "
    "and the scores after them, can differ from another machine's. Import models before numpy "
    "(models/numerics.py)."
)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Hyperparameters of the engine; everything that changes a score lives here."""

    horizon_days: int = 90
    seed: int = 42
    #: How far behind the newest event time labels are closed, for slightly late events.
    label_lateness_ms: int = MS_PER_HOUR
    alert_rules: RuleSet = field(default_factory=load_rules)
    #: HMAC key for pseudonymous customer ids in every output; empty: ids as they came.
    pseudonymise_key: bytes = field(default=b"", repr=False)


@dataclass(slots=True)
class Output:
    """A record to publish: ``kind`` is ``"score"`` or ``"alert"``; keyed by customer."""

    kind: str
    key: str
    value: dict[str, Any]


@dataclass
class EngineStats:
    """Counters a shell turns into metrics or a summary."""

    events: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    erased: int = 0


class Engine:
    """Applies events to per-customer state and scores the customer.

    ``states`` is any mutable mapping from customer id to ``CustomerState``: a dict in
    a backtest, a write-back cache over the Faust table in the worker.
    """

    def __init__(
        self,
        config: EngineConfig | None = None,
        states: MutableMapping[str, CustomerState] | None = None,
        suite: ModelSuite | None = None,
    ):
        self.config = config or EngineConfig()
        self.states: MutableMapping[str, CustomerState] = {} if states is None else states
        self.suite = suite or ModelSuite(horizon_days=self.config.horizon_days, seed=self.config.seed)
        self.stats = EngineStats()
        self.watermark_ts: int | None = None
        self.alerting = Alerting(self.config.alert_rules, self.config.horizon_days)
        key = self.config.pseudonymise_key
        self.pseudonymiser = Pseudonymiser(key) if key else None
        if not numerics.PINNED:
            warnings.warn(UNPINNED, RuntimeWarning, stacklevel=2)

    def process(self, event: Event, source: Source | None = None, emitted_at: int | None = None) -> list[Output]:
        """Apply ``event`` once; return the score record for its customer and any alerts.

        An event already applied (redelivered after a crash or rebalance, or sent twice
        by a producer) leaves the state unchanged but is scored again, and the alerts it
        raised are sent again, so every delivered event has its records; consumers dedupe
        on ``event_id`` and ``alert_id``.
        """
        stamp = now_ms() if emitted_at is None else emitted_at
        state = self.states.get(event.customer_id)
        if state is None:
            state = CustomerState(event.customer_id)
        if state.has_applied(event, source):
            self.stats.duplicates += 1
            # The write that applied it may exist only in the worker's local store: a crash
            # can lose its changelog record before the source offset was committed. Writing
            # the unchanged state again puts it back on the changelog.
            self.states[event.customer_id] = state
            scores = {**state_scores(state, event.ts), **self.suite.rescore(state, event)}
            alerts = self.alerting.replay(state, event, stamp)
        else:
            scores, alerts = self._apply(state, event, source, stamp)
        if self.pseudonymiser is None:
            outputs = [Output("score", event.customer_id, score_record(state, event, scores, stamp))]
            outputs.extend(Output("alert", event.customer_id, alert) for alert in alerts)
            return outputs
        alias = self.pseudonymiser.pseudonym(event.customer_id)
        outputs = [Output("score", alias, self.pseudonymiser.score(score_record(state, event, scores, stamp), alias))]
        outputs.extend(Output("alert", alias, self.pseudonymiser.alert(alert, alias)) for alert in alerts)
        return outputs

    def forget(self, customer_id: str) -> str:
        """Erase a customer: its state, its alert memory and the models' per-customer data.

        Returns the key its records were published under, for the tombstone that makes
        compacted copies and downstream stores drop the customer too. Events of the
        customer processed later start a new, empty history.
        """
        self.states.pop(customer_id, None)
        self.suite.forget(customer_id)
        self.stats.erased += 1
        return self.pseudonymiser.pseudonym(customer_id) if self.pseudonymiser else customer_id

    def _apply(
        self, state: CustomerState, event: Event, source: Source | None, stamp: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        before = self.suite.before_apply(state, event)
        state.apply(event)
        state.mark_applied(event, source)
        self.stats.events[event.type] += 1
        if self.watermark_ts is None or event.ts > self.watermark_ts:
            self.watermark_ts = event.ts
            self.suite.advance(event.ts - self.config.label_lateness_ms)
        after = self.suite.after_apply(state, event)
        scores = {"anomaly": None, "anomaly_threshold": None, **state_scores(state, event.ts), **after, **before}
        alerts = self.alerting.evaluate(state, event, scores, stamp)
        self.states[event.customer_id] = state
        return scores, alerts
