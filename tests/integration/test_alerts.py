"""Alerts from a worker on the embedded broker: right customers, once per situation, as the backtest says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import orjson
import pytest

from models.alert_rules import load_rules
from models.eventlog import write_log
from models.generator import GeneratorConfig, generate
from models.timeutil import parse_ts
from stream.backtest import run_backtest
from tests.harness import Cluster, read_topics

pytestmark = pytest.mark.integration

SCHEMA = json.loads((Path(__file__).parents[2] / "models/schemas/customer-alert.schema.json").read_text())


def test_alerts_arrive_once_for_the_customers_the_truth_names(cluster: Cluster, tmp_path: Path) -> None:
    config = GeneratorConfig(customers=1200, days=150, seed=11, anomaly_rate=0.01, burst_rate=0.01)
    events, truth = generate(config)
    log, replayed = tmp_path / "log.jsonl", tmp_path / "alerts.jsonl"
    write_log(log, events)
    run_backtest(log, cluster.settings, alerts_out=replayed)
    expected = [orjson.loads(line) for line in replayed.read_bytes().splitlines()]
    assert {"anomalous_order", "click_burst"} <= {alert["rule"] for alert in expected}

    cluster.create_topics()
    cluster.produce_events(events)
    cluster.start_worker()
    scores_topic, alerts_topic = cluster.topic("customer-scores"), cluster.topic("customer-alerts")
    out = read_topics(
        cluster.broker,
        [scores_topic, alerts_topic],
        lambda r: len(r[scores_topic]) >= len(events) and len(r[alerts_topic]) >= len(expected),
        timeout=240,
        settle=3,
    )
    alerts = [value for _key, value in out[alerts_topic]]
    for alert in alerts:
        jsonschema.validate(alert, SCHEMA)
    assert all(key == alert["customer_id"].encode() for (key, _v), alert in zip(out[alerts_topic], alerts, strict=True))
    assert max(Counter(alert["alert_id"] for alert in alerts).values()) == 1, "no alert twice"
    # The worker feeds the engine in the backtest's order: the same alerts, to the id.
    assert sorted(alert["alert_id"] for alert in alerts) == sorted(alert["alert_id"] for alert in expected)

    cooldowns = {name: rule.cooldown_ms for name, rule in load_rules().rules.items()}
    last: dict[tuple[str, str], int] = {}
    for alert in sorted(alerts, key=lambda a: parse_ts(a["ts"])):
        key, ts = (alert["rule"], alert["customer_id"]), parse_ts(alert["ts"])
        assert key not in last or ts - last[key] >= cooldowns[alert["rule"]], f"{key} alerted within its cooldown"
        last[key] = ts

    burst_alerts = [alert for alert in alerts if alert["rule"] == "click_burst"]
    alerted = {alert["dedupe_key"].split("session:")[-1] for alert in burst_alerts}
    assert alerted <= set(truth["anomalous_sessions"]), "no click_burst alert on a human session"
    session_start: dict[str, int] = {}
    for event in events:
        if event.get("session_id") in truth["anomalous_sessions"]:
            session_start.setdefault(event["session_id"], parse_ts(event["ts"]))
    for session in set(truth["anomalous_sessions"]) - alerted:  # only inside an earlier burst's cooldown
        customer, start = session[1:].split("-")[0], session_start[session]
        assert any(
            a["customer_id"] == customer and 0 <= start - parse_ts(a["ts"]) < cooldowns["click_burst"]
            for a in burst_alerts
        ), f"burst session {session} was not alerted"
    anomalies = set(truth["anomalous_orders"])
    orders = [alert for alert in alerts if alert["rule"] == "anomalous_order"]
    assert sum(alert["event_id"] in anomalies for alert in orders) >= 0.8 * len(orders)

    env = {**os.environ, **cluster.env}
    command = ["alerts", "tail", "--rule", "click_burst", "--from-beginning", "--max", "3"]
    tail = subprocess.run(
        [sys.executable, "-m", "stream.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = tail.stdout.splitlines()
    assert len(lines) == 3 and all(" click_burst " in line and "clicks in session" in line for line in lines)
