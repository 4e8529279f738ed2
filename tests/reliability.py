"""Reliability scenarios on a real broker: crashes, a rebalance, a frozen broker, a broken local store.

Each scenario streams generated events into worker processes while something goes
wrong, then judges the result only against totals computed from the produced events:

- lost: valid events without a score record (must be 0);
- wrong state: customers whose table state (read from its changelog) differs from the
  totals, i.e. double counts or missed events (must be 0);
- duplicates: extra score records from at-least-once delivery (consumers dedupe on
  ``event_id``), reported, not judged.

tests/integration/test_reliability.py runs them small; bench/reliability.py at full size.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from models.records import state_view
from models.state import CustomerState
from stream.producer import topic_and_payload
from tests.harness import Cluster, read_to_end, read_topics, scrape
from tests.totals import expected_states, mismatched_customers


@dataclass
class Outcome:
    scenario: str
    events: int
    lost: int
    duplicates: int
    wrong_state: int
    wrong_scores: int
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.wrong_state == 0 and self.wrong_scores == 0

    def line(self) -> str:
        notes = ", ".join(f"{name} {value}" for name, value in self.notes.items())
        return (
            f"{self.scenario}: {self.events:,} events in {self.seconds:.0f} s; lost {self.lost}, customers with "
            f"wrong state {self.wrong_state} (table) / {self.wrong_scores} (last score), duplicate score records "
            f"{self.duplicates:,}" + (f"; {notes}" if notes else "")
        )


class Feed:
    """Produces events from a background thread at a steady rate, like a live shop."""

    def __init__(self, cluster: Cluster, events: list[dict[str, Any]], rate: float) -> None:
        settings = cluster.settings
        records = [topic_and_payload(event, settings) for event in events]
        self.thread = threading.Thread(target=cluster.produce_raw, args=(records, rate), daemon=True)

    def __enter__(self) -> Feed:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


def worker_metric(cluster: Cluster, name: str, metric: str, **labels: str) -> float:
    """Sum of a metric on worker ``name``'s /metrics; 0 while it is not serving yet."""
    try:
        samples = scrape(cluster.port(name))
    except OSError:
        return 0.0
    return sum(
        value for (sample, tags), value in samples.items() if sample == metric and labels.items() <= dict(tags).items()
    )


def processed(cluster: Cluster, name: str) -> float:
    """Events the worker process has handled since it started (scored or recognised as duplicates)."""
    return worker_metric(cluster, name, "pulse_events_total", outcome="scored") + worker_metric(
        cluster, name, "pulse_events_total", outcome="duplicate"
    )


def owned_partitions(cluster: Cluster, name: str) -> int:
    """Partitions of ``orders`` the worker reports lag for, i.e. owns (refreshed every 5 s)."""
    try:
        samples = scrape(cluster.port(name))
    except OSError:
        return 0
    topic = cluster.topic("orders")
    return sum(1 for (sample, tags) in samples if sample == "pulse_consumer_lag" and dict(tags)["topic"] == topic)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.5) -> float:
    """Seconds until ``condition()`` holds; ``TimeoutError`` naming ``what`` otherwise."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(poll)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def table_states(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The customer-state table as its changelog holds it (last value per key, tombstones dropped)."""
    changelog = f"{cluster.settings.group_id}-customer-state-changelog"
    last = dict(read_to_end(cluster.broker, changelog))
    return {
        key.decode(): state_view(CustomerState.from_list(orjson.loads(value)))
        for key, value in last.items()
        if value is not None
    }


def judge(cluster: Cluster, scenario: str, events: list[dict[str, Any]], started: float, timeout: float, **notes: Any):
    """Wait until every event has a score (or ``timeout``), then compare everything with the totals."""
    scores = cluster.topic("customer-scores")
    wanted = {event["event_id"] for event in events}

    def all_scored(records: dict[str, list[Any]]) -> bool:
        return wanted <= {value["event_id"] for _key, value in records[scores] if value}

    try:
        out = read_topics(cluster.broker, [scores], all_scored, timeout=timeout, settle=3)
    except TimeoutError:
        out = read_topics(cluster.broker, [scores], lambda _r: True, timeout=60, settle=3)
    per_event = Counter(value["event_id"] for _key, value in out[scores] if value)
    expected = expected_states(events)
    last_scores = {value["customer_id"]: value["state"] for _key, value in out[scores] if value}
    return Outcome(
        scenario=scenario,
        events=len(events),
        lost=len(wanted - set(per_event)),
        duplicates=sum(count - 1 for count in per_event.values()),
        wrong_state=len(mismatched_customers(table_states(cluster), expected)),
        wrong_scores=len(mismatched_customers(last_scores, expected)),
        seconds=time.monotonic() - started,
        notes=notes,
    )


# -- scenarios ----------------------------------------------------------------------


def crashes(cluster: Cluster, events: list[dict[str, Any]], kills: int, rate: float, seed: int = 1) -> Outcome:
    """``kill -9`` the worker ``kills`` times, each at a random moment after it has made progress.

    Models are checkpointed every second, so most restarts load a checkpoint older than
    the state the killed worker left, as a crash in production does.
    """
    rng = random.Random(seed)
    cluster.extra_env["PULSE_CHECKPOINT_INTERVAL_S"] = "1"
    cluster.create_topics()
    started = time.monotonic()
    worker = cluster.start_worker()
    done_at_kill = []
    with Feed(cluster, events, rate):
        for _ in range(kills):
            wait_until(lambda: processed(cluster, "w1") > 0, 180, "worker progress after a restart")
            time.sleep(rng.uniform(0.5, 5.0))
            done_at_kill.append(int(processed(cluster, "w1")))
            cluster.kill(worker)
            worker = cluster.start_worker()
    return judge(
        cluster,
        "crashes",
        events,
        started,
        timeout=600,
        kills=kills,
        processed_by_each_killed_worker=done_at_kill,
        restarts_from_a_checkpoint=cluster.worker_log("w1").count("restored models from"),
    )


def rebalance(cluster: Cluster, events: list[dict[str, Any]], rate: float, wait_s: float = 600) -> Outcome:
    """Two workers in one group; stop one mid-stream, the other takes over; start it again.

    ``wait_s`` bounds the wait for the last scores, so a stuck partition is reported as lost events.
    """
    cluster.create_topics()
    started = time.monotonic()
    cluster.start_worker("w1")
    second = cluster.start_worker("w2")
    partitions = cluster.partitions
    with Feed(cluster, events, rate) as feed:
        wait_until(
            lambda: (
                owned_partitions(cluster, "w1") + owned_partitions(cluster, "w2") == partitions
                and processed(cluster, "w1") > 0
                and processed(cluster, "w2") > 0
            ),
            180,
            "both workers sharing the partitions",
        )
        shared = (owned_partitions(cluster, "w1"), owned_partitions(cluster, "w2"))
        cluster.stop(second)
        takeover = wait_until(lambda: owned_partitions(cluster, "w1") == partitions, 180, "w1 owning every partition")
        before = processed(cluster, "w1")
        wait_until(lambda: processed(cluster, "w1") > before, 120, "w1 processing after the takeover")
        cluster.start_worker("w2")
        rejoin = wait_until(lambda: owned_partitions(cluster, "w2") > 0, 180, "w2 owning partitions again")
        still_feeding = feed.running
    return judge(
        cluster,
        "rebalance",
        events,
        started,
        timeout=wait_s,
        partitions_before=f"{shared[0]}+{shared[1]}",
        takeover_s=round(takeover, 1),
        rejoin_s=round(rejoin, 1),
        feed_running_at_rejoin=still_feeding,
    )


def broker_stall(cluster: Cluster, events: list[dict[str, Any]], rate: float, pause_s: float) -> Outcome:
    """Freeze the broker (SIGSTOP) for ``pause_s`` mid-stream, then let it go on."""
    cluster.create_topics()
    started = time.monotonic()
    worker = cluster.start_worker()
    with Feed(cluster, events, rate):
        wait_until(lambda: processed(cluster, "w1") > 0, 180, "worker progress")
        before = processed(cluster, "w1")
        cluster.broker.pause()
        time.sleep(pause_s)
        cluster.broker.resume()
        resumed = time.monotonic()
        lag_peak = 0.0

        def caught_up() -> bool:
            nonlocal lag_peak
            lag_peak = max(lag_peak, worker_metric(cluster, "w1", "pulse_consumer_lag"))
            return processed(cluster, "w1") > before + 100

        back = wait_until(caught_up, 300, "worker progress after the broker came back")
    wait_until(lambda: processed(cluster, "w1") >= len(events), 600, "all events processed")
    outcome = judge(
        cluster,
        "broker stall",
        events,
        started,
        timeout=300,
        paused_s=pause_s,
        progress_again_after_s=round(back, 1),
        drained_after_resume_s=round(time.monotonic() - resumed, 1),
        consumer_lag_peak=int(lag_peak),
    )
    outcome.notes["worker_alive"] = worker.poll() is None
    return outcome


def broken_local_store(cluster: Cluster, events: list[dict[str, Any]], how: str) -> Outcome:
    """Kill the worker mid-stream, then corrupt its RocksDB stores (``corrupt``) or lose them (``wipe``)."""
    cluster.create_topics()
    cluster.produce_events(events)
    started = time.monotonic()
    worker = cluster.start_worker()
    wait_until(lambda: processed(cluster, "w1") >= len(events) // 2, 300, "half the events processed")
    cluster.kill(worker)
    tables = cluster.workdir / "data-w1" / "faust"
    stores = sorted(tables.glob("*/tables/*.db"))
    if how == "wipe":
        shutil.rmtree(tables)
    else:
        for store in stores[::2]:
            corrupt(store)
    cluster.start_worker()
    outcome = judge(cluster, f"local store {how}", events, started, timeout=300, stores=len(stores))
    log = cluster.worker_log()
    outcome.notes["stores_set_aside"] = log.count("is corrupt")
    outcome.notes["worker_alive"] = cluster.workers[-1].poll() is None
    return outcome


def corrupt(store: Path) -> None:
    """Flip bytes through every table file of a RocksDB store, and garble its CURRENT pointer."""
    for path in store.glob("*.sst"):
        data = bytearray(path.read_bytes())
        for index in range(64, len(data) - 64, 97):
            data[index] ^= 0xFF
        path.write_bytes(bytes(data))
    (store / "CURRENT").write_text("not a manifest\n")
