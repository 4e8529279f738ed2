"""Alerts on a generated log: how many per 1,000 customers per day, and how many are right.

Replays a generated log against the default rules (or ``--rules FILE``) and checks every
alert against the generator's truth:
- ``anomalous_order``: the order is an injected anomaly;
- ``click_burst``: the click belongs to an injected bot burst;
- ``churn_risk_vip``, ``segment_drop``: the customer had really dropped out by the alert;
- ``high_value_customer``, ``unhappy_vip``: the customer is high-value in truth (top 10%
  by rate x mean spend).
It also prints how many injected anomaly orders and burst sessions got an alert (recall).

    python bench/alerts_generated.py [--customers 3000] [--days 365] [--rules FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from models.eventlog import write_log
from models.generator import GeneratorConfig, generate
from models.timeutil import parse_ts
from stream.backtest import run_backtest
from stream.settings import Settings


def matches_truth(alert: dict[str, Any], truth: dict[str, Any], anomalies: set[str], bursts: set[str]) -> bool:
    customer = truth["customers"][alert["customer_id"]]
    rule = alert["rule"]
    if rule == "anomalous_order":
        return alert["event_id"] in anomalies
    if rule == "click_burst":
        return alert["event_id"] in bursts
    if rule in ("churn_risk_vip", "segment_drop"):
        dropout = customer["dropout_ts"]
        return dropout is not None and parse_ts(dropout) <= parse_ts(alert["ts"])
    return bool(customer["high_value"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rules", type=Path)
    args = parser.parse_args()
    events, truth = generate(GeneratorConfig(customers=args.customers, days=args.days, seed=args.seed))
    anomalies, bursts = set(truth["anomalous_orders"]), set(truth["burst_event_ids"])
    settings = Settings(alert_rules=args.rules)._validated()
    with tempfile.TemporaryDirectory() as tmp:
        log, alerts_path = Path(tmp) / "log.jsonl", Path(tmp) / "alerts.jsonl"
        write_log(log, events)
        result = run_backtest(log, settings, alerts_out=alerts_path)
        alerts = [orjson.loads(line) for line in alerts_path.read_bytes().splitlines()]
    sent, right = Counter(a["rule"] for a in alerts), Counter()
    for alert in alerts:
        right[alert["rule"]] += matches_truth(alert, truth, anomalies, bursts)
    per_thousand_day = 1000 / args.customers / args.days
    print(f"{len(events):,} events, {args.customers:,} customers, {args.days} days; {result.seconds:.0f} s")
    print(f"{'rule':<22}{'alerts':>8}{'per 1k cust/day':>17}{'match truth':>13}{'held back':>11}")
    for rule in sorted(set(sent) | {r for r, _ in result.alert_outcomes}):
        share = f"{right[rule] / sent[rule]:.1%}" if sent[rule] else "-"
        held = result.alert_outcomes[(rule, "cooldown")]
        print(f"{rule:<22}{sent[rule]:>8,}{sent[rule] * per_thousand_day:>17.3f}{share:>13}{held:>11,}")
    alerted = {a["event_id"] for a in alerts if a["rule"] == "anomalous_order"}
    alerted_sessions = {a["dedupe_key"].rsplit("session:", 1)[-1] for a in alerts if a["rule"] == "click_burst"}
    print(
        f"recall: {len(alerted & anomalies)}/{len(anomalies)} injected anomaly orders alerted; "
        f"{len(alerted_sessions & set(truth['anomalous_sessions']))}/{len(truth['anomalous_sessions'])} "
        "burst sessions alerted"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
