"""The worker on the embedded broker: scores, dead letters, exact state, crash recovery."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jsonschema
import orjson
import pytest

from models.checkpoint import read_checkpoint
from models.eventlog import write_log
from models.generator import GeneratorConfig, generate
from models.suite import ModelSuite
from stream.backtest import run_backtest
from stream.producer import topic_and_payload
from tests.badevents import BAD_EVENTS
from tests.harness import Cluster, read_to_end, read_topics, scrape
from tests.reliability import processed, table_states, wait_until
from tests.totals import assert_states_match, expected_states

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).parents[2] / "models" / "schemas"
BAD_PER_KIND = 50


def _bad_records(cluster: Cluster) -> tuple[list[tuple[str, bytes, bytes]], Counter[str]]:
    records, reasons = [], Counter()
    for kind, (topic_type, build, reason) in sorted(BAD_EVENTS.items()):
        topic = cluster.topic({"order": "orders", "click": "clicks", "review": "reviews"}[topic_type])
        for i in range(BAD_PER_KIND):
            records.append((topic, f"bad-{kind}-{i % 7}".encode(), build(i)))
            reasons[reason] += 1
    return records, reasons


def _with_wrong_keys(cluster: Cluster, events: list[dict]) -> list[tuple[str, bytes, bytes]]:
    records = []
    for event in events:
        topic, _key, value = topic_and_payload(event, cluster.settings)
        records.append((topic, f"not-{event['customer_id']}".encode(), value))
    return records


def _last_by_customer(records: list[tuple[bytes, dict]]) -> dict[str, dict]:
    return {value["customer_id"]: value["state"] for _key, value in records}


def test_scores_dead_letters_and_exact_state(cluster: Cluster, tmp_path: Path) -> None:
    events, _truth = generate(GeneratorConfig(customers=300, days=90, seed=7))
    assert len(events) >= 5000
    bad, bad_reasons = _bad_records(cluster)
    # Some producers key by session or order id: these must be re-keyed, not lost or split.
    miskeyed, events = events[:60], events[60:]
    cluster.create_topics()
    cluster.produce_raw(bad[: len(bad) // 2])
    cluster.produce_raw(_with_wrong_keys(cluster, miskeyed))
    cluster.produce_events(events)
    cluster.produce_raw(bad[len(bad) // 2 :])
    events = miskeyed + events
    cluster.start_worker()

    scores_topic, dlq_topic = cluster.topic("customer-scores"), cluster.topic("events-dlq")
    out = read_topics(
        cluster.broker,
        [scores_topic, dlq_topic],
        lambda r: len(r[scores_topic]) >= len(events) and len(r[dlq_topic]) >= len(bad),
        timeout=180,
        settle=3,
    )
    scores, dead = [value for _k, value in out[scores_topic]], [value for _k, value in out[dlq_topic]]

    per_event = Counter(record["event_id"] for record in scores)
    assert set(per_event) == {event["event_id"] for event in events}
    assert set(per_event.values()) == {1}, "exactly one score per valid event"
    assert Counter(record["reason"] for record in dead) == bad_reasons
    assert {record["topic"] for record in dead} == {cluster.topic(t) for t in ("orders", "clicks", "reviews")}

    score_schema = json.loads((SCHEMAS / "customer-score.schema.json").read_text())
    dlq_schema = json.loads((SCHEMAS / "dead-letter.schema.json").read_text())
    for record in scores[:: max(1, len(scores) // 500)]:
        jsonschema.validate(record, score_schema)
    for record in dead:
        jsonschema.validate(record, dlq_schema)

    expected = expected_states(events)
    assert_states_match(_last_by_customer(out[scores_topic]), expected)
    assert_states_match(table_states(cluster), expected)

    log = tmp_path / "events.jsonl.gz"
    write_log(log, events)
    state_out = tmp_path / "state.jsonl"
    result = run_backtest(log, cluster.settings, state_out=state_out)
    assert result.valid == len(events) and not result.dead_letters
    backtest_states = {row.pop("customer_id"): row for row in map(orjson.loads, state_out.read_bytes().splitlines())}
    assert backtest_states == _last_by_customer(out[scores_topic])

    metrics = scrape(cluster.metrics_port)

    def total(name: str, **labels: str) -> float:
        return sum(
            value
            for (metric, tags), value in metrics.items()
            if metric == name and labels.items() <= dict(tags).items()
        )

    assert total("pulse_events_total", outcome="scored") == len(events)
    assert total("pulse_events_total", outcome="rekeyed") == len(miskeyed)
    assert total("pulse_events_total", outcome="dead_letter") == len(bad)
    by_reason = {
        dict(tags)["reason"]: value
        for (metric, tags), value in metrics.items()
        if metric == "pulse_dlq_total" and value  # every known reason is on /metrics, at 0 until used
    }
    assert by_reason == bad_reasons
    assert total("pulse_event_lag_seconds_count") == len(events)
    assert total("pulse_processing_seconds_count") > 0
    assert not any("customer" in key for (_n, labels) in metrics for key, _v in labels)

    cluster.stop_all()  # SIGTERM: the worker checkpoints its models on the way out
    _suite, info = read_checkpoint(cluster.workdir / "data-w1" / "models" / "suite.ckpt", 90, 42)
    assert info.events == len(events)


def test_kill_9_mid_stream_keeps_state_exact(cluster: Cluster) -> None:
    events, _truth = generate(GeneratorConfig(customers=800, days=120, seed=11))
    cluster.extra_env["PULSE_CHECKPOINT_INTERVAL_S"] = "1"  # the restart loads models older than the state
    cluster.create_topics()
    cluster.produce_events(events)
    scores_topic = cluster.topic("customer-scores")
    worker = cluster.start_worker()
    read_topics(
        cluster.broker, [scores_topic], lambda r: len(r[scores_topic]) >= len(events) // 3, timeout=120, settle=0
    )
    cluster.kill(worker)
    seen_before_restart = len(read_to_end(cluster.broker, scores_topic))
    assert seen_before_restart < len(events), "the kill must land mid-stream"

    cluster.start_worker()
    wanted = {event["event_id"] for event in events}
    out = read_topics(
        cluster.broker,
        [scores_topic],
        lambda r: wanted <= {value["event_id"] for _k, value in r[scores_topic]},
        timeout=180,
        settle=3,
    )
    per_event = Counter(value["event_id"] for _k, value in out[scores_topic])
    duplicates = sum(count - 1 for count in per_event.values())
    print(f"kill -9 after {seen_before_restart} of {len(events)} scores; duplicate score records: {duplicates}")
    expected = expected_states(events)
    assert_states_match(table_states(cluster), expected)
    assert_states_match(_last_by_customer(out[scores_topic]), expected)
    assert "restored models from" in cluster.worker_log("w1"), "the restart loads the killed worker's checkpoint"


def test_a_worker_restarted_with_sessions_open_goes_on_as_if_never_stopped(cluster: Cluster, tmp_path: Path) -> None:
    """Three busy days: sessions open at the checkpoint get more clicks after the restart."""
    events, _truth = generate(GeneratorConfig(customers=3000, days=3, seed=5))

    def sessions_go_on(suite: ModelSuite, rest: list[dict]) -> None:
        by_customer = suite.open_sessions.by_customer
        assert any(e.get("session_id") in by_customer.get(e["customer_id"], {}) for e in rest)

    _restart_mid_stream(cluster, tmp_path, events, sessions_go_on)


def test_a_worker_restarted_with_fitted_models_goes_on_as_if_never_stopped(cluster: Cluster, tmp_path: Path) -> None:
    """120 days: BG/NBD fitted, census labels pending, refits and label resolution after the restart."""
    events, _truth = generate(GeneratorConfig(customers=800, days=120, seed=11))

    def models_fitted(suite: ModelSuite, rest: list[dict]) -> None:
        assert suite.value.params is not None and suite.labels.size > 0 and suite.propensity.warm

    _restart_mid_stream(cluster, tmp_path, events, models_fitted)


def _restart_mid_stream(
    cluster: Cluster, tmp_path: Path, events: list[dict], check: Callable[[ModelSuite, list[dict]], None]
) -> None:
    """Stop the worker (SIGTERM: it checkpoints its models) after half the events, ``check`` the
    checkpoint against the rest, start it again: every score must equal the backtest's."""
    half = len(events) // 2
    cluster.create_topics()
    cluster.produce_events(events[:half])
    cluster.start_worker()
    wait_until(lambda: processed(cluster, "w1") >= half, 180, "the first half scored")
    cluster.stop_all()
    suite, info = read_checkpoint(cluster.workdir / "data-w1" / "models" / "suite.ckpt", 90, 42)
    assert info.events == half
    check(suite, events[half:])

    cluster.start_worker()
    cluster.produce_events(events[half:])
    scores_topic = cluster.topic("customer-scores")
    wanted = {event["event_id"] for event in events}

    def all_scored(records: dict[str, list]) -> bool:
        return wanted <= {value["event_id"] for _key, value in records[scores_topic]}

    out = read_topics(cluster.broker, [scores_topic], all_scored, timeout=180)
    assert "Crashed" not in cluster.worker_log("w1")
    assert "restored models from" in cluster.worker_log("w1")
    scored = {value["event_id"]: value["scores"] for _key, value in out[scores_topic]}
    log, expected_path = tmp_path / "events.jsonl", tmp_path / "scores.jsonl"
    write_log(log, events)
    run_backtest(log, cluster.settings, scores_out=expected_path)
    expected = {r["event_id"]: r["scores"] for r in map(orjson.loads, expected_path.read_bytes().splitlines())}
    assert scored.keys() == expected.keys()
    different = [event_id for event_id, scores in expected.items() if scored[event_id] != scores]
    assert not different, f"{len(different)} of {len(expected)} events scored unlike the backtest, first {different[0]}"
