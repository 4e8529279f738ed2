"""A live worker with pseudonymisation and a configured secret: hostile input, privacy, erasure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from models.errors import InvalidEvent
from models.events import REASONS, decode_event
from models.generator import GeneratorConfig, generate
from models.privacy import Pseudonymiser
from stream.broker import EmbeddedBroker
from tests.harness import Cluster, read_to_end, read_topics
from tests.hostile import for_each_batch

pytestmark = pytest.mark.integration

KEY, PASSWORD = "hmac-key-for-tests", "sasl-password-never-shown"
HOSTILE_BATCHES, PER_BATCH = 220, 50  # 11,000 payloads
TOPIC_TYPES = {"orders": "order", "clicks": "click", "reviews": "review"}
PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")


def hostile_records(cluster: Cluster) -> tuple[list[tuple[str, bytes, bytes]], int]:
    """Hostile payloads spread over the input topics, keyed as a producer would; and how many are invalid."""
    payloads: list[bytes] = []
    for_each_batch(HOSTILE_BATCHES, PER_BATCH, payloads.extend)
    records, invalid = [], 0
    for number, raw in enumerate(payloads):
        name = list(TOPIC_TYPES)[number % 3]
        try:
            key = decode_event(raw, TOPIC_TYPES[name]).customer_id.encode()
        except InvalidEvent:
            key, invalid = b"not-a-customer", invalid + 1
        records.append((cluster.topic(name), key, raw))
    return records, invalid


@pytest.fixture(scope="module")
def guarded(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One worker with a pseudonymisation key and a secret, fed generated and hostile events."""
    cluster = Cluster(
        broker=broker,
        prefix="sec-",
        workdir=tmp_path_factory.mktemp("security"),
        extra_env={"PULSE_PSEUDONYMISE_KEY": KEY, "PULSE_SASL_PASSWORD": PASSWORD},
    )
    events, _truth = generate(GeneratorConfig(customers=200, days=90, seed=8))
    cluster.create_topics()
    cluster.produce_events(events)
    hostile, invalid = hostile_records(cluster)
    cluster.produce_raw(hostile)
    worker = cluster.start_worker()
    scores, dlq = cluster.topic("customer-scores"), cluster.topic("events-dlq")
    valid = len(events) + len(hostile) - invalid
    out = read_topics(
        cluster.broker,
        [scores, dlq],
        lambda r: len(r[scores]) >= valid and len(r[dlq]) >= invalid,
        timeout=300,
        settle=5,
    )
    yield {"cluster": cluster, "worker": worker, "events": events, "out": out, "valid": valid, "invalid": invalid}
    cluster.stop_all()


def test_hostile_events_at_a_live_worker_are_dead_lettered_or_scored(guarded):
    cluster, out = guarded["cluster"], guarded["out"]
    scores, dlq = out[cluster.topic("customer-scores")], out[cluster.topic("events-dlq")]
    print(f"hostile: {HOSTILE_BATCHES * PER_BATCH} payloads, {guarded['invalid']} dead-lettered, rest scored")
    assert guarded["invalid"] > 5_000
    assert len(dlq) == guarded["invalid"] and len(scores) == guarded["valid"]
    assert all(record["reason"] in REASONS and record["message"] for _key, record in dlq)
    assert guarded["worker"].poll() is None, "the worker must stay up"


def test_outputs_carry_pseudonyms_and_no_secret_shows(guarded):
    cluster, out, events = guarded["cluster"], guarded["out"], guarded["events"]
    pseudonym = Pseudonymiser(KEY.encode()).pseudonym
    real_ids = {event["customer_id"] for event in events}
    scores = out[cluster.topic("customer-scores")]
    assert all(PSEUDONYM.match(key.decode()) and key.decode() == value["customer_id"] for key, value in scores)
    published = {value["customer_id"] for _key, value in scores}
    assert {pseudonym(customer) for customer in real_ids} <= published
    assert not published & real_ids
    dlq = out[cluster.topic("events-dlq")]
    assert all(record["raw"] == "" and key == pseudonym("not-a-customer").encode() for key, record in dlq)

    port = cluster.metrics_port
    pages = [urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read().decode() for path in ("/", "/status.json")]
    pages.append(urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
    for text in [*pages, cluster.worker_log()]:
        assert PASSWORD not in text and KEY not in text


def test_pulse_forget_erases_a_customer_from_a_running_worker(guarded):
    cluster, events = guarded["cluster"], guarded["events"]
    customer = next(event["customer_id"] for event in reversed(events) if event["type"] == "order")
    alias = Pseudonymiser(KEY.encode()).pseudonym(customer)
    done = subprocess.run(
        [sys.executable, "-m", "stream.cli", "forget", customer, "--wait", "90"],
        env={**os.environ, **cluster.env},
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"customer {customer!r} erased after" in done.stdout and alias in done.stdout

    changelog = f"{cluster.settings.group_id}-customer-state-changelog"
    last_state = {key: value for key, value in read_to_end(cluster.broker, changelog)}
    assert last_state[customer.encode()] is None, "the table's changelog must end in a tombstone"
    score_records = read_to_end(cluster.broker, cluster.topic("customer-scores"))
    assert (alias.encode(), None) in score_records
    checkpoint = Path(cluster.workdir / "data-w1" / "models" / "suite.ckpt").read_bytes()
    assert customer.encode() not in checkpoint

    click = {"type": "click", "event_id": "after-erasure", "customer_id": customer, "session_id": "s-after"}
    cluster.produce_events([{**click, "ts": events[-1]["ts"], "action": "view"}])
    scores = cluster.topic("customer-scores")
    later = read_topics(
        cluster.broker,
        [scores],
        lambda r: any(value and value["event_id"] == "after-erasure" for _k, value in r[scores]),
        timeout=60,
        settle=0,
    )
    fresh = next(value for _k, value in later[scores] if value and value["event_id"] == "after-erasure")
    counts = fresh["state"]
    assert (counts["orders"], counts["clicks"], counts["reviews"]) == (0, 1, 0), "a new, empty history"
