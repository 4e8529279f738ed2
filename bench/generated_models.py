"""Generated log: does behaviour beat orders alone, are anomalies found, how fast is backtest.

One run: generate a ~300k-event log with ground truth, backtest it with a snapshot, and
compare at the snapshot
- churn ROC AUC of ``churn_risk`` against an order-only BG/NBD fit on the same orders
  (the better of its two rankings: exact P(no order) and expected orders);
- anomaly ROC AUC of order and click scores against the generator's injected anomalies;
- backtest events per second.
Targets: churn AUC at least 0.02 above the order-only baseline; anomaly AUC >= 0.95.

    python bench/generated_models.py [--customers 7000] [--days 365]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import models.numerics  # noqa: F401  (pins numpy's CPU dispatch: before numpy loads)

import numpy as np
import orjson
from scipy.stats import spearmanr

from models import bgnbd
from models.evaluation import roc_auc
from models.eventlog import write_log
from models.generator import GeneratorConfig, generate
from models.timeutil import MS_PER_DAY, parse_ts, to_iso
from stream.backtest import run_backtest
from stream.settings import Settings

HORIZON = 90


def order_only_baseline(events: list[dict], snapshot_ms: int, customers: list[str]) -> dict[str, np.ndarray]:
    """BG/NBD on orders alone (one per customer-day, daily units), fit at the snapshot."""
    days: dict[str, set[int]] = defaultdict(set)
    for event in events:
        if event["type"] == "order" and event["status"] == "placed":
            ts = parse_ts(event["ts"])
            if ts <= snapshot_ms:
                days[event["customer_id"]].add(ts // MS_PER_DAY)
    buyers = [c for c in customers if days.get(c)]
    x = np.array([len(days[c]) - 1 for c in buyers], dtype=float)
    t_x = np.array([max(days[c]) - min(days[c]) for c in buyers], dtype=float)
    T = np.array([snapshot_ms // MS_PER_DAY - min(days[c]) for c in buyers], dtype=float)
    params = bgnbd.fit(x, t_x, T).params
    exact = dict(zip(buyers, bgnbd.prob_no_purchase(params, HORIZON, x, t_x, T), strict=True))
    expected = dict(zip(buyers, -bgnbd.expected_purchases(params, HORIZON, x, t_x, T), strict=True))
    return {"exact": np.array([exact[c] for c in customers]), "expected": np.array([expected[c] for c in customers])}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=7000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    config = GeneratorConfig(customers=args.customers, days=args.days, seed=args.seed)
    events, truth = generate(config)
    start_ms = parse_ts(events[0]["ts"])
    snapshot_ms = start_ms + (args.days - HORIZON - 10) * MS_PER_DAY
    with tempfile.TemporaryDirectory() as tmp:
        log, scores_path, snapshot_csv = Path(tmp) / "log.jsonl", Path(tmp) / "scores.jsonl.gz", Path(tmp) / "s.csv"
        write_log(log, events)
        result = run_backtest(
            log, Settings(horizon_days=HORIZON), scores_out=scores_path, snapshot=(snapshot_ms, snapshot_csv)
        )
        with snapshot_csv.open() as handle:
            rows = [row for row in csv.DictReader(handle) if row["orders"] != "0"]
        anomaly = {"order": ([], []), "click": ([], [])}
        injected = set(truth["anomalous_orders"]) | set(truth["burst_event_ids"])
        with gzip.open(scores_path) as lines:
            for line in lines:
                record = orjson.loads(line)
                score = record["scores"].get("anomaly")
                if score is not None and record["event_type"] in anomaly:
                    labels, scores = anomaly[record["event_type"]]
                    labels.append(record["event_id"] in injected)
                    scores.append(score)

    ordered_after: dict[str, int] = defaultdict(int)
    spent_after: dict[str, float] = defaultdict(float)
    for event in events:
        ts = parse_ts(event["ts"])
        if (
            event["type"] == "order"
            and event["status"] == "placed"
            and snapshot_ms < ts <= snapshot_ms + HORIZON * MS_PER_DAY
        ):
            ordered_after[event["customer_id"]] += 1
            spent_after[event["customer_id"]] += event["amount"]
    customers = [row["customer_id"] for row in rows]
    churned = np.array([ordered_after[c] == 0 for c in customers])
    ours = roc_auc(churned, np.array([float(row["churn_risk"]) for row in rows]))
    baseline = order_only_baseline(events, snapshot_ms, customers)
    base_exact, base_expected = roc_auc(churned, baseline["exact"]), roc_auc(churned, baseline["expected"])
    base = max(base_exact, base_expected)

    print(
        f"log: {len(events):,} events, {args.customers:,} customers, {args.days} days; "
        f"backtest {result.seconds:.1f} s = {result.valid / result.seconds:,.0f} events/s"
    )
    print(
        f"churn at {to_iso(snapshot_ms)}, H = {HORIZON} days, {len(customers):,} buyers, "
        f"{churned.mean():.1%} without an order in the horizon"
    )
    print(
        f"  churn_risk ROC AUC {ours:.4f}; order-only BG/NBD {base:.4f} "
        f"(exact P(no order) {base_exact:.4f}, expected orders {base_expected:.4f}); lift {ours - base:+.4f}"
    )
    spend = np.array([spent_after[c] for c in customers])
    clv = np.array([float(row["clv_h"]) for row in rows])
    print(
        f"  clv_h (published) against spend in the horizon: MAE ${np.mean(np.abs(clv - spend)):.2f}, "
        f"Spearman {spearmanr(clv, spend).statistic:.4f}, total ${clv.sum():,.0f} vs ${spend.sum():,.0f}"
    )
    anomaly_auc = {}
    for kind, (labels, scores) in anomaly.items():
        anomaly_auc[kind] = roc_auc(np.array(labels), np.array(scores))
        print(f"  {kind} anomaly ROC AUC {anomaly_auc[kind]:.4f} ({sum(labels):,} injected of {len(labels):,} scored)")
    for model, figures in sorted(result.quality.items()):
        print(f"  live {model}: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(figures.items())))
    checks = {
        "churn AUC >= order-only BG/NBD + 0.02": ours >= base + 0.02,
        "order anomaly AUC >= 0.95": anomaly_auc["order"] >= 0.95,
        "click burst AUC >= 0.95": anomaly_auc["click"] >= 0.95,
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
