"""``pulse backtest``: an event log through the engine, in-process, no broker.

To give the worker's scores, the log is taken apart the way a replay puts it on the
broker (topic by event type, partition by the producer's murmur2 hash of the customer
id, file order within a partition) and merged back with the worker's rule: the
partition head with the smallest (event time, topic rank, partition) goes first.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

from aiokafka.partitioner import murmur2

from models.engine import Engine
from models.errors import InvalidEvent
from models.eventlog import iter_lines, open_log
from models.events import Event, decode_event
from models.jsonio import dumps
from models.records import dead_letter, state_view
from models.state import Source
from models.timeutil import now_ms
from stream.pipeline import TOPIC_RANK
from stream.report import ReportCollector, write_report
from stream.settings import Settings
from stream.snapshot import write_snapshot
from stream.topics import INPUT_TYPES

TOPIC_FOR_TYPE = {kind: name for name, kind in INPUT_TYPES.items()}


def partition_for(customer_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a customer id key."""
    return (murmur2(customer_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class BacktestResult:
    lines: int = 0
    events: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    customers: int = 0
    seconds: float = 0.0
    quality: dict[str, dict[str, float]] = field(default_factory=dict)
    snapshot_rows: int | None = None
    value_models: dict[str, dict[str, float]] = field(default_factory=dict)
    snapshot_models: dict[str, dict[str, float]] = field(default_factory=dict)
    #: (UTC day "YYYY-MM-DD", rule) -> alerts sent
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (rule, "sent" | "cooldown") -> count, from the engine's alerting
    alert_outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    report: Path | None = None

    @property
    def valid(self) -> int:
        return sum(self.events.values())

    def summary(self) -> str:
        rate = self.valid / self.seconds if self.seconds else 0.0
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.events.items()))
        dlq = ", ".join(f"{reason} {count}" for reason, count in sorted(self.dead_letters.items())) or "none"
        lines = [
            f"{self.lines} lines: {self.valid} events ({kinds}), {sum(self.dead_letters.values())} dead letters "
            f"({dlq}), {self.duplicates} duplicates, {self.customers} customers; "
            f"{self.seconds:.2f} s, {rate:,.0f} events/s"
        ]
        for model, params in sorted(self.value_models.items()):
            lines.append(f"  {model}: " + ", ".join(f"{name}={value:.4g}" for name, value in params.items()))
        if self.snapshot_rows is not None:
            lines.append(f"  snapshot: {self.snapshot_rows} customers")
            for model, params in sorted(self.snapshot_models.items()):
                shown = ", ".join(f"{name}={value:.4g}" for name, value in params.items())
                lines.append(f"  {model} at the snapshot: {shown}")
        for model, figures in sorted(self.quality.items()):
            shown = ", ".join(f"{name} {value:.4g}" for name, value in sorted(figures.items())) or "no labels yet"
            lines.append(f"  {model}: {shown}")
        lines.extend(self._alert_lines())
        return "\n".join(lines)

    def _alert_lines(self) -> list[str]:
        """Alerts per rule (total, per day, held back by cooldown) and per period and rule."""
        rules = sorted({rule for _day, rule in self.alerts} | {rule for rule, _outcome in self.alert_outcomes})
        if not rules:
            return ["  alerts: none"]
        days = sorted({day for day, _rule in self.alerts})
        span = max(1, (_day_number(days[-1]) - _day_number(days[0]) + 1)) if days else 1
        lines = [f"  alerts over {span} day(s) with alerts:"]
        for rule in rules:
            sent = sum(count for (_day, name), count in self.alerts.items() if name == rule)
            held = self.alert_outcomes[(rule, "cooldown")]
            lines.append(f"    {rule}: {sent} sent ({sent / span:.2f} per day), {held} held back by cooldown")
        period = (lambda day: day) if span <= 31 else (lambda day: day[:7])
        per_period: Counter[tuple[str, str]] = Counter()
        for (day, rule), count in self.alerts.items():
            per_period[(period(day), rule)] += count
        lines.append("    " + f"{'day' if span <= 31 else 'month':<12}" + "".join(f"{rule:>22}" for rule in rules))
        for key in sorted({p for p, _rule in per_period}):
            lines.append("    " + f"{key:<12}" + "".join(f"{per_period[(key, rule)]:>22}" for rule in rules))
        return lines


@dataclass
class _Queued:
    event: Event
    source: Source


def run_backtest(
    log_path: Path,
    settings: Settings,
    scores_out: Path | None = None,
    dlq_out: Path | None = None,
    state_out: Path | None = None,
    snapshot: tuple[int, Path] | None = None,
    alerts_out: Path | None = None,
    report_dir: Path | None = None,
) -> BacktestResult:
    """Run ``log_path`` through a fresh engine; write the requested outputs.

    With ``snapshot = (event time, CSV path)``, every customer's scores as of that time
    are written when the merged stream first passes it (or at its end).
    """
    result = BacktestResult()
    started = time.perf_counter()
    engine = Engine(settings.engine_config())
    report = ReportCollector(engine, log_path.name) if report_dir is not None else None
    with ExitStack() as stack:
        scores = stack.enter_context(open_log(scores_out, "wb")) if scores_out else None
        dlq = stack.enter_context(open_log(dlq_out, "wb")) if dlq_out else None
        alerts = stack.enter_context(open_log(alerts_out, "wb")) if alerts_out else None
        partitions = _partition_log(log_path, settings, result, dlq)
        for queued in _merged(partitions):
            if snapshot is not None and queued.event.ts > snapshot[0]:
                result.snapshot_rows, result.snapshot_models = write_snapshot(engine, *snapshot)
                snapshot = None
            outputs = engine.process(queued.event, queued.source)
            if report is not None:
                report.observe(queued.event, outputs)
            for output in outputs:
                if output.kind == "alert":
                    result.alerts[(output.value["ts"][:10], output.value["rule"])] += 1
                    if alerts is not None:
                        _write_line(alerts, output.value)
                elif scores is not None:
                    _write_line(scores, output.value)
        if snapshot is not None:
            result.snapshot_rows, result.snapshot_models = write_snapshot(engine, *snapshot)
    result.quality = engine.suite.quality()
    result.alert_outcomes = engine.alerting.stats
    result.value_models = engine.suite.value.describe()
    result.events = engine.stats.events
    result.duplicates = engine.stats.duplicates
    result.customers = len(engine.states)
    if state_out:
        with open_log(state_out, "wb") as handle:
            for customer_id in sorted(engine.states):
                _write_line(handle, {"customer_id": customer_id, **state_view(engine.states[customer_id])})
    result.seconds = time.perf_counter() - started
    if report is not None and report_dir is not None:
        result.report = write_report(report_dir, report.finish())
    return result


def _partition_log(
    log_path: Path, settings: Settings, result: BacktestResult, dlq: IO[bytes] | None
) -> dict[tuple[int, int], list[_Queued]]:
    """Decode every line; group valid events by (topic rank, partition), in file order."""
    queues: dict[tuple[int, int], list[_Queued]] = {}
    for number, raw in iter_lines(log_path):
        result.lines += 1
        try:
            event = decode_event(raw)
        except InvalidEvent as exc:
            result.dead_letters[exc.reason] += 1
            if dlq is not None:
                _write_line(dlq, dead_letter(exc.reason, exc.message, raw, str(log_path), None, number, now_ms()))
            continue
        partition = partition_for(event.customer_id, settings.partitions)
        queue = queues.setdefault((TOPIC_RANK[event.type], partition), [])
        source = Source(settings.topic(TOPIC_FOR_TYPE[event.type]), partition, len(queue))
        queue.append(_Queued(event, source))
    return queues


def _merged(queues: dict[tuple[int, int], list[_Queued]]) -> Iterator[_Queued]:
    """k-way merge on the partition heads, exactly as the worker's event-time merge."""
    ordered = [queues[key] for key in sorted(queues)]
    return heapq.merge(*ordered, key=lambda q: (q.event.ts, TOPIC_RANK[q.event.type], q.source.partition))


def _write_line(handle: IO[bytes], record: dict) -> None:
    handle.write(dumps(record))
    handle.write(b"\n")


def _day_number(day: str) -> int:
    return date.fromisoformat(day).toordinal()
