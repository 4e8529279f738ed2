"""``pulse replay`` on the embedded broker: exact, resumable, and the same scores as a backtest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from models.eventlog import write_log
from models.generator import GeneratorConfig, generate
from stream.backtest import run_backtest
from tests.harness import Cluster, read_to_end, read_topics

pytestmark = pytest.mark.integration


def pulse(cluster: Cluster, *args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stream.cli", *args],
        env={**os.environ, **cluster.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def input_records(cluster: Cluster) -> list[tuple[bytes, dict]]:
    return [
        (key, orjson.loads(value))
        for name in ("orders", "clicks", "reviews")
        for key, value in read_to_end(cluster.broker, cluster.topic(name))
    ]


def test_interrupted_replay_resumes_without_loss_or_duplicates(cluster: Cluster, tmp_path: Path) -> None:
    events, _truth = generate(GeneratorConfig(customers=300, days=40, seed=8))
    log = tmp_path / "log.jsonl.gz"
    write_log(log, [*events[:100], {"type": "order", "customer_id": "no-fields"}, *events[100:]])
    cluster.create_topics()
    first = pulse(cluster, "replay", str(log), "--speed", "200000")  # 40 days in about 17 s
    time.sleep(5)
    first.send_signal(signal.SIGINT)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    resume = int(out.rsplit("--resume-from ", 1)[1].split()[0])
    assert 100 < resume < len(events), out
    second = pulse(cluster, "replay", str(log), "--resume-from", str(resume))
    out2, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out2
    assert "ETA" in out2  # the progress line

    records = input_records(cluster)
    ids = Counter(value["event_id"] for _key, value in records)
    assert set(ids) == {event["event_id"] for event in events} and max(ids.values()) == 1
    assert all(key == value["customer_id"].encode() for key, value in records)
    dead = [orjson.loads(value) for _key, value in read_to_end(cluster.broker, cluster.topic("events-dlq"))]
    assert [(d["reason"], d["offset"], d["topic"]) for d in dead] == [("missing_field", 101, "replay:log.jsonl.gz")]


def test_time_window_and_csv_logs(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "type,event_id,customer_id,ts,order_id,amount,items,session_id,action\n"
        "order,e1,c1,2024-01-01T10:00:00Z,o1,12.50,2,,\n"
        "click,e2,c2,2024-01-02T10:00:00Z,,,,s1,view\n"
        "order,e3,c1,2024-01-03T10:00:00Z,o2,abc,1,,\n"
        "order,e4,c3,2024-01-05T10:00:00Z,o3,9,1,,\n"
    )
    cluster.create_topics()
    done = pulse(cluster, "replay", str(log), "--from", "2024-01-02T00:00:00Z", "--to", "2024-01-05T00:00:00Z")
    out, _ = done.communicate(timeout=60)
    assert done.returncode == 0, out
    assert "1 invalid to the dead-letter topic; 2 outside --from/--to" in out
    records = input_records(cluster)
    assert [(key, value["event_id"]) for key, value in records] == [(b"c2", "e2")]
    dead = [orjson.loads(value) for _key, value in read_to_end(cluster.broker, cluster.topic("events-dlq"))]
    assert [(d["reason"], d["offset"]) for d in dead] == [("wrong_type", 4)]  # amount "abc", line 4


def test_replay_into_a_worker_gives_the_backtest_scores_to_the_last_digit(cluster: Cluster, tmp_path: Path) -> None:
    events, _truth = generate(GeneratorConfig(customers=700, days=120, seed=12))
    events = events[:10_000]
    log, expected_path = tmp_path / "log.jsonl", tmp_path / "scores.jsonl"
    write_log(log, events)
    run_backtest(log, cluster.settings, scores_out=expected_path)
    expected = {
        record["event_id"]: record["scores"] for record in map(orjson.loads, expected_path.read_bytes().splitlines())
    }
    cluster.create_topics()
    started = time.monotonic()
    done = pulse(cluster, "replay", str(log))
    out, _ = done.communicate(timeout=120)
    assert done.returncode == 0, out
    rate = len(events) / (time.monotonic() - started)
    cluster.start_worker()
    scores = cluster.topic("customer-scores")
    got = read_topics(cluster.broker, [scores], lambda r: len(r[scores]) >= len(events), timeout=240, settle=2)
    by_event = {value["event_id"]: value["scores"] for _key, value in got[scores]}
    assert len(by_event) == len(events) == len(expected)
    different = [event_id for event_id, value in expected.items() if by_event[event_id] != value]
    forced = [line for line in cluster.worker_log().splitlines() if "merge:" in line or "skipped" in line]
    assert not different, f"{len(different)} events scored differently, first {different[0]}; worker: {forced[:5]}"
    print(f"replay rate {rate:,.0f} events/s (process start included)")
