"""``pulse backtest LOG --report DIR``: what the system would have said, as a page people read.

A ``ReportCollector`` watches the backtest: every week of event time it samples each
model's live quality, the RFM segment sizes and the throughput; from the records it
keeps the anomaly scores (a bounded reservoir per event type) and the alerts per day and
rule. At the end it adds the churn-risk calibration and predicted against actual
value by decile (the most recent 5,000 resolved value labels).

``write_report`` writes ``metrics.json`` (all of it) and ``report.html``: one
self-contained page, plots rendered by matplotlib into embedded PNGs, no external files.
matplotlib is imported only here (``pip install 'customer-pulse[report]'``).
"""

from __future__ import annotations

import base64
import html
import io
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models.engine import Engine, Output
from models.errors import ConfigError
from models.events import Event
from models.timeutil import MS_PER_DAY, to_iso

SAMPLE_EVERY_MS = 7 * MS_PER_DAY
RESERVOIR = 50_000
HEADLINE = {"roc_auc": "ROC AUC", "spearman": "Spearman"}


class ReportCollector:
    """Samples a running backtest; ``finish`` returns the report's data."""

    def __init__(self, engine: Engine, log_name: str, seed: int = 0) -> None:
        self.engine, self.log_name = engine, log_name
        self.rng = random.Random(seed)
        self.next_sample: int | None = None
        self.samples: list[dict[str, Any]] = []
        self.anomaly: dict[str, list[float]] = {"order": [], "click": []}
        self.anomaly_seen: Counter[str] = Counter()
        self.alerts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.events = 0
        self.started = self.last_wall = time.perf_counter()
        self.last_events = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def observe(self, event: Event, outputs: list[Output]) -> None:
        self.events += 1
        self.first_ts = event.ts if self.first_ts is None else min(self.first_ts, event.ts)
        self.last_ts = event.ts if self.last_ts is None else max(self.last_ts, event.ts)
        if self.next_sample is None:
            self.next_sample = event.ts + SAMPLE_EVERY_MS
        elif event.ts >= self.next_sample:
            self._sample(self.next_sample)
            self.next_sample += SAMPLE_EVERY_MS * max(1, (event.ts - self.next_sample) // SAMPLE_EVERY_MS + 1)
        for output in outputs:
            if output.kind == "alert":
                self.alerts[output.value["ts"][:10]][output.value["rule"]] += 1
            elif event.type in self.anomaly and output.value["scores"].get("anomaly") is not None:
                self._keep_anomaly(event.type, output.value["scores"]["anomaly"])

    def _keep_anomaly(self, kind: str, score: float) -> None:
        """Reservoir sampling: a uniform sample of every score, in bounded memory."""
        self.anomaly_seen[kind] += 1
        kept = self.anomaly[kind]
        if len(kept) < RESERVOIR:
            kept.append(score)
        else:
            slot = self.rng.randrange(self.anomaly_seen[kind])
            if slot < RESERVOIR:
                kept[slot] = score

    def _sample(self, ts: int) -> None:
        now = time.perf_counter()
        segments = Counter(state.segment or "none" for state in self.engine.states.values())
        self.samples.append(
            {
                "ts": to_iso(ts),
                "events": self.events,
                "events_per_s": (self.events - self.last_events) / max(now - self.last_wall, 1e-9),
                "quality": self.engine.suite.quality(),
                "segments": dict(segments),
            }
        )
        self.last_wall, self.last_events = now, self.events

    def finish(self) -> dict[str, Any]:
        if self.last_ts is not None:
            self._sample(self.last_ts)
        suite = self.engine.suite
        pairs = np.array(suite.clv_quality.pairs) if suite.clv_quality.pairs else np.empty((0, 2))
        seconds = time.perf_counter() - self.started
        return {
            "log": self.log_name,
            "events": self.events,
            "customers": len(self.engine.states),
            "event_time": [to_iso(self.first_ts or 0), to_iso(self.last_ts or 0)],
            "seconds": seconds,
            "events_per_s": self.events / max(seconds, 1e-9),
            "quality": suite.quality(),
            "samples": self.samples,
            "churn_calibration": suite.churn_quality.calibration_table(),
            "value_deciles": value_deciles(pairs),
            "anomaly": {
                kind: {
                    "scored": self.anomaly_seen[kind],
                    "threshold": detector.threshold_value,
                    "histogram": np.histogram(self.anomaly[kind], bins=40, range=(0.0, 1.0))[0].tolist(),
                    "above_threshold": _share_above(self.anomaly[kind], detector.threshold_value),
                }
                for kind, detector in (("order", suite.order_anomaly), ("click", suite.click_anomaly))
            },
            "alerts_per_day": {day: dict(rules) for day, rules in sorted(self.alerts.items())},
        }


def value_deciles(pairs: np.ndarray) -> list[dict[str, float]]:
    """Customers ranked by predicted value, in ten groups: mean predicted against mean actual."""
    if len(pairs) < 10:
        return []
    actual, predicted = pairs[:, 0], pairs[:, 1]
    order = np.argsort(predicted, kind="stable")
    return [
        {
            "decile": number,
            "n": len(group),
            "predicted": float(predicted[group].mean()),
            "actual": float(actual[group].mean()),
        }
        for number, group in enumerate(np.array_split(order, 10), start=1)
    ]


def _share_above(scores: list[float], threshold: float | None) -> float | None:
    if not scores or threshold is None:
        return None
    return float(np.mean(np.array(scores) >= threshold))


# -- writing ---------------------------------------------------------------------------


def write_report(directory: Path, data: dict[str, Any]) -> Path:
    """Write ``metrics.json`` and ``report.html`` into ``directory``; return the page's path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("--report needs matplotlib: pip install 'customer-pulse[report]'") from exc
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "metrics.json").write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )
    figures = [
        ("Model quality over event time", _quality_plot(plt, data)),
        ("Churn risk calibration", _calibration_plot(plt, data)),
        ("Predicted against actual value, by decile of prediction", _deciles_plot(plt, data)),
        ("Anomaly scores and their thresholds", _anomaly_plot(plt, data)),
        ("Alerts per day by rule", _alerts_plot(plt, data)),
        ("RFM segment sizes over time", _segments_plot(plt, data)),
        ("Throughput", _throughput_plot(plt, data)),
    ]
    page = directory / "report.html"
    page.write_text(_html(data, figures), encoding="utf-8")
    return page


def _png(plt: Any, fig: Any) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _times(data: dict[str, Any]) -> list[np.datetime64]:
    return [np.datetime64(sample["ts"].rstrip("Z")) for sample in data["samples"]]


def _quality_plot(plt: Any, data: dict[str, Any]) -> str | None:
    fig, ax = plt.subplots(figsize=(10, 4))
    times, drawn = _times(data), 0
    for model in sorted(data["quality"]):
        for metric, label in HEADLINE.items():
            values = [sample["quality"].get(model, {}).get(metric) for sample in data["samples"]]
            points = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
            if len(points) > 1:
                ax.plot(*zip(*points, strict=True), label=f"{model} ({label})")
                drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_ylabel("live quality (recent labels)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return _png(plt, fig)


def _calibration_plot(plt: Any, data: dict[str, Any]) -> str | None:
    table = data["churn_calibration"]
    if not table:
        return None
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    ax.plot([r["predicted"] for r in table], [r["observed"] for r in table], marker="o", label="churn_risk")
    for row in table:
        ax.annotate(
            f"{row['n']:,.0f}",
            (row["predicted"], row["observed"]),
            fontsize=7,
            xytext=(3, -9),
            textcoords="offset points",
        )
    ax.set_xlabel("predicted churn risk")
    ax.set_ylabel("share that churned")
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(plt, fig)


def _deciles_plot(plt: Any, data: dict[str, Any]) -> str | None:
    table = data["value_deciles"]
    if not table:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(1, len(table) + 1)
    ax.bar(x - 0.2, [r["predicted"] for r in table], width=0.4, label="predicted clv_h")
    ax.bar(x + 0.2, [r["actual"] for r in table], width=0.4, label="actual spend in H")
    ax.set_xticks(x)
    ax.set_xlabel("decile of predicted value")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    return _png(plt, fig)


def _anomaly_plot(plt: Any, data: dict[str, Any]) -> str | None:
    kinds = [kind for kind, figures in data["anomaly"].items() if sum(figures["histogram"])]
    if not kinds:
        return None
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.5), squeeze=False)
    edges = np.linspace(0, 1, 41)
    for ax, kind in zip(axes[0], kinds, strict=True):
        figures = data["anomaly"][kind]
        ax.bar(edges[:-1], figures["histogram"], width=1 / 40, align="edge")
        ax.set_yscale("log")
        if figures["threshold"] is not None:
            ax.axvline(figures["threshold"], color="red", label=f"threshold {figures['threshold']:.3f}")
            ax.legend(fontsize=8)
        ax.set_title(f"{kind} events ({figures['scored']:,} scored)")
        ax.set_xlabel("anomaly score")
    return _png(plt, fig)


def _alerts_plot(plt: Any, data: dict[str, Any]) -> str | None:
    per_day = data["alerts_per_day"]
    if not per_day:
        return None
    days = sorted(per_day)
    rules = sorted({rule for counts in per_day.values() for rule in counts})
    fig, ax = plt.subplots(figsize=(10, 3.5))
    x = [np.datetime64(day) for day in days]
    for rule in rules:
        ax.plot(x, [per_day[day].get(rule, 0) for day in days], marker=".", linestyle="-", label=rule)
    ax.set_ylabel("alerts per day")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(plt, fig)


def _segments_plot(plt: Any, data: dict[str, Any]) -> str | None:
    samples = data["samples"]
    names = sorted({name for sample in samples for name in sample["segments"]} - {"none"})
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.stackplot(_times(data), *[[s["segments"].get(n, 0) for s in samples] for n in names], labels=names)
    ax.set_ylabel("customers")
    ax.legend(fontsize=8, loc="upper left")
    return _png(plt, fig)


def _throughput_plot(plt: Any, data: dict[str, Any]) -> str | None:
    samples = data["samples"]
    if len(samples) < 2:
        return None
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.plot([s["events"] for s in samples], [s["events_per_s"] for s in samples])
    ax.set_xlabel("events processed")
    ax.set_ylabel("events/s (per week of event time)")
    ax.grid(alpha=0.3)
    return _png(plt, fig)


def _html(data: dict[str, Any], figures: list[tuple[str, str | None]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(model)}</td>"
        + "".join(f"<td>{html.escape(metric)} {value:,.4g}</td>" for metric, value in sorted(figures_.items()))
        + "</tr>"
        for model, figures_ in sorted(data["quality"].items())
        if figures_
    )
    sections = "".join(
        f"<section><h2>{html.escape(title)}</h2>"
        + (f'<img alt="{html.escape(title)}" src="data:image/png;base64,{png}">' if png else "<p>no data yet</p>")
        + "</section>"
        for title, png in figures
    )
    start, end = data["event_time"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>customer-pulse backtest: {html.escape(data["log"])}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #1d2430; }}
table {{ border-collapse: collapse; }} td {{ padding: .2rem .6rem; border-bottom: 1px solid #e5e7eb; }}
img {{ max-width: 100%; }} h2 {{ font-size: 1.05rem; margin-top: 2rem; }}
</style></head><body>
<h1>Backtest of {html.escape(data["log"])}</h1>
<p>{data["events"]:,} events from {start} to {end}, {data["customers"]:,} customers;
{data["seconds"]:,.1f} s, {data["events_per_s"]:,.0f} events/s. The figures below are predict-then-learn:
every prediction was scored against what happened later, before the model learned from it.</p>
<h2>Live quality at the end</h2><table>{rows}</table>
{sections}
</body></html>
"""
