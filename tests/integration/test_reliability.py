"""Rebalance, a frozen broker and a corrupt local store, on the embedded broker (small scale).

The full-size runs (50,000 events with five kills, longer streams) are in bench/reliability.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.generator import GeneratorConfig, generate
from stream.broker import EmbeddedBroker
from tests import reliability
from tests.harness import Cluster

pytestmark = pytest.mark.integration


def events_for(customers: int, days: int, seed: int) -> list[dict]:
    return generate(GeneratorConfig(customers=customers, days=days, seed=seed))[0]


def test_a_stopped_worker_hands_its_partitions_over_and_takes_them_back(cluster: Cluster) -> None:
    cluster.partitions = 8
    events = events_for(300, 90, seed=31)
    outcome = reliability.rebalance(cluster, events, rate=150, wait_s=240)
    print(outcome.line())
    assert outcome.exact, outcome.line()
    before = [int(count) for count in outcome.notes["partitions_before"].split("+")]
    assert sum(before) == 8 and min(before) > 0, "both workers owned partitions before one stopped"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own: freezing the shared one would stall every other test's topics."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        yield broker


def test_a_frozen_broker_loses_nothing_and_the_lag_drains(own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    cluster = Cluster(broker=own_broker, prefix="stall-", workdir=tmp_path)
    events = events_for(200, 90, seed=32)
    try:
        outcome = reliability.broker_stall(cluster, events, rate=250, pause_s=30)
    finally:
        cluster.stop_all()
    print(outcome.line())
    assert outcome.exact, outcome.line()
    assert outcome.notes["worker_alive"]


def test_a_corrupt_local_store_is_set_aside_and_rebuilt_from_the_changelog(cluster: Cluster) -> None:
    events = events_for(300, 90, seed=33)
    outcome = reliability.broken_local_store(cluster, events, how="corrupt")
    print(outcome.line())
    assert outcome.exact, outcome.line()
    assert outcome.notes["stores_set_aside"] >= 1 and outcome.notes["worker_alive"]
