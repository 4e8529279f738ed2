"""Reliability at full size: crashes, a rebalance, a frozen broker, a broken local store.

Each scenario runs on a fresh embedded broker with worker processes and prints one
line: events, events lost (must be 0), customers whose state differs from totals
computed from the produced events (must be 0), duplicate score records (consumers
dedupe on ``event_id``), and what happened (kill points, takeover time, drain time).

    python bench/reliability.py [--scenarios crashes,rebalance,stall,corrupt,wipe]
                                [--events 50000] [--kills 5] [--rate 1000]

The default crash run streams about 50,000 generated events at --rate events/s and
``kill -9``s the worker five times at random moments, restarting it each time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.generator import GeneratorConfig, generate
from stream.broker import EmbeddedBroker
from tests import reliability
from tests.harness import Cluster

SCENARIOS = ("crashes", "rebalance", "stall", "corrupt", "wipe")


def events_about(count: int, seed: int) -> list[dict]:
    """A generated log of about ``count`` events (about 19 events per customer over 90 days)."""
    customers = max(50, count // 19)
    events, _truth = generate(GeneratorConfig(customers=customers, days=90, seed=seed))
    return events[:count]


def run(name: str, args: argparse.Namespace, workdir: Path) -> reliability.Outcome:
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        cluster = Cluster(broker=broker, prefix=f"{name}-", workdir=workdir, partitions=8)
        try:
            if name == "crashes":
                events = events_about(args.events, seed=41)
                return reliability.crashes(cluster, events, kills=args.kills, rate=args.rate, seed=args.seed)
            if name == "rebalance":
                return reliability.rebalance(cluster, events_about(args.events // 2, seed=42), rate=args.rate / 2)
            if name == "stall":
                events = events_about(args.events // 4, seed=43)
                return reliability.broker_stall(cluster, events, rate=args.rate / 4, pause_s=args.pause)
            return reliability.broken_local_store(cluster, events_about(args.events // 4, seed=44), how=name)
        finally:
            cluster.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s the crash run is produced at")
    parser.add_argument("--pause", type=float, default=30.0, help="seconds the broker is frozen")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    names = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    failed = 0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run(name, args, Path(tmp))
        print(outcome.line(), flush=True)
        failed += not outcome.exact
    print("PASS: nothing lost, no double counts" if not failed else f"FAIL: {failed} scenario(s) lost or miscounted")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
