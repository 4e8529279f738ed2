"""Prometheus metrics of a worker, built on a registry passed in (never at import time).

Names follow Prometheus conventions (``_total``, ``_seconds``); labels never carry
customer ids, so cardinality stays bounded by topics, reasons, models and metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from faust.sensors.prometheus import PrometheusMonitor
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from models.events import REASONS

OUTCOMES = ("scored", "duplicate", "dead_letter", "rekeyed")

#: Event time to emit: seconds for live traffic, up to days for replays of old logs.
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400, 604800)


@dataclass(frozen=True)
class PulseMetrics:
    events: Counter
    dead_letters: Counter
    event_lag: Histogram
    processing: Histogram
    customers: Gauge
    model_quality: Gauge
    alerts: Counter
    alerts_held: Gauge
    checkpoint_age: Gauge
    merge_forced: Counter
    consumer_lag: Gauge
    buffers: Gauge
    store_memory: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, prefix: str = "pulse") -> PulseMetrics:
        return cls(
            events=Counter(
                f"{prefix}_events",
                "Input events by topic and outcome (scored, duplicate, dead_letter, rekeyed, erased).",
                ["topic", "outcome"],
                registry=registry,
            ),
            dead_letters=Counter(f"{prefix}_dlq", "Dead letters by reason.", ["reason"], registry=registry),
            event_lag=Histogram(
                f"{prefix}_event_lag_seconds", "Event time to score emission.", buckets=LAG_BUCKETS, registry=registry
            ),
            processing=Histogram(
                f"{prefix}_processing_seconds", "Processing time of one micro-batch.", registry=registry
            ),
            customers=Gauge(f"{prefix}_customers", "Customers in this worker's state table.", registry=registry),
            model_quality=Gauge(
                f"{prefix}_model_quality",
                "Progressive (predict-then-learn) quality.",
                ["model", "metric"],
                registry=registry,
            ),
            alerts=Counter(f"{prefix}_alerts", "Alerts emitted by rule.", ["rule"], registry=registry),
            alerts_held=Gauge(
                f"{prefix}_alerts_held_back",
                "Alerts a rule raised but held back (cooldown or same situation) since the worker started.",
                ["rule"],
                registry=registry,
            ),
            checkpoint_age=Gauge(
                f"{prefix}_checkpoint_age_seconds", "Seconds since the last model checkpoint.", registry=registry
            ),
            merge_forced=Counter(
                f"{prefix}_merge_forced_releases",
                "Event-time merge releases made without waiting for every partition "
                "(events may reach the models in another order than in a backtest).",
                ["cause"],
                registry=registry,
            ),
            consumer_lag=Gauge(
                f"{prefix}_consumer_lag",
                "Records on the broker not yet received, per input partition this worker owns.",
                ["topic", "partition"],
                registry=registry,
            ),
            buffers=Gauge(
                f"{prefix}_buffer_entries",
                "Entries in the bounded in-memory buffers: decoded states, open sessions and their "
                "samples, pending labels, census members, the order book.",
                ["buffer"],
                registry=registry,
            ),
            store_memory=Gauge(
                f"{prefix}_store_memory_bytes",
                "Memory RocksDB holds for the state table's partitions (memtables, block cache, table readers).",
                ["part"],
                registry=registry,
            ),
        )

    def start_at_zero(self, input_topics: Iterable[str], rules: Iterable[str]) -> None:
        """Create every known label set at 0, so dashboards and alert rules find each series
        from the first scrape, before the first dead letter or alert."""
        for topic in input_topics:
            for outcome in OUTCOMES:
                self.events.labels(topic=topic, outcome=outcome)
        for reason in REASONS:
            self.dead_letters.labels(reason=reason)
        for rule in rules:
            self.alerts.labels(rule=rule)
            self.alerts_held.labels(rule=rule)
        for cause in ("idle", "buffer_full"):
            self.merge_forced.labels(cause=cause)

    def set_quality(self, quality: dict[str, dict[str, float]]) -> None:
        for model, figures in quality.items():
            for metric, value in figures.items():
                self.model_quality.labels(model=model, metric=metric).set(value)


class GroupMonitor(PrometheusMonitor):
    """Faust's Prometheus sensors for the consumer group only: commits, assignments, rebalances.

    Faust's per-message sensors (messages and stream events in and out, table reads and
    writes, sends) took about 6% of a busy worker's time; the ``pulse_*`` metrics count
    the same events once per batch.
    """

    def _skip(self, *args: Any, **kwargs: Any) -> None:
        return None

    on_message_in = on_message_out = on_stream_event_in = on_stream_event_out = _skip
    on_table_get = on_table_set = on_table_del = _skip
    on_send_initiated = on_send_completed = on_send_error = track_tp_end_offset = _skip
