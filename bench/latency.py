"""Latency: one worker under fixed offered loads; event-to-score latency and whether lag stays bounded.

For each rate in ``--rates`` (default 1,000, 2,000 and 5,000 events/s) starts an embedded
broker and one ``pulse worker`` (every score on) of its own, warms it up with a few hundred
events, then sends ``rate x --seconds`` events (default 60 s) at that rate: 75% clicks in
30-minute sessions, 20% orders, 5% reviews over ``--customers`` customers, each stamped
with ``ts`` = the wall clock when it is sent. A reader follows ``customer-scores``
meanwhile. After sending it waits for the worker to score everything sent (at most
``--drain-limit`` seconds).

A rate gets a fresh broker because the embedded broker's fetches slow down with every
record batch it has stored: each fetch that returns records lists all of a partition's
batches, and it keeps them all. On one broker a later rate would pay for the earlier
ones. ``--one-broker`` offers the rates to one broker and worker in turn instead, each
starting once the one before is scored (or its drain limit ran out).

Figures per rate:

- offered/s: events sent / time spent sending (the producer may fall short of the rate);
- scored/s: this rate's events scored while it was being offered, per second;
- p50/p95/p99 ms: ``emitted_at - ts``, from the event being sent to the engine scoring
  it (``emitted_at`` is the engine's stamp); e2e p99: to the score record reaching the
  reader. Events still unscored when the drain limit ran out count as slower than any
  scored one; a percentile among them prints as ``>N``, N the least they can have taken;
- backlog: events sent but not yet scored, sampled every second: records on the broker
  the worker has not fetched (its ``pulse_consumer_lag``) plus those fetched and not yet
  scored. max: the largest while sending; final: when sending stopped;
- drained s: from the end of sending until every event of the rate was scored;
- CPU while sending, as a share of one core: the workers, the broker, and this script
  (the producer and the score reader), which share the machine's cores with them;
- bounded: yes when the backlog is not growing at the end of the run. Rule: the mean
  backlog over the last 10 s of sending exceeds the mean over the 10 s before by less
  than 2% of the events offered in 10 s (the backlog grows by less than 2% of the rate
  per second). Runs shorter than 20 s compare their last two halves.

With ``--one-broker``, a rate that starts before the previous one drained says so in its
row: its latencies then include the wait behind the earlier backlog.

With ``--workers 2`` two workers share the partitions in one group, as a deployment scales
out; the rates start once the warm-up is scored and every worker owns partitions.

    python bench/latency.py [--rates 1000,2000,5000] [--seconds 60] [--customers 20000]
                            [--drain-limit 120] [--workers 1] [--one-broker]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reference import traffic
from bench.reference.backlog import GROWTH_LIMIT, is_bounded, window_means
from bench.reference.procstat import cpu_seconds
from bench.reference.scores import ScoreReader
from models.timeutil import now_ms
from stream.broker import EmbeddedBroker
from stream.producer import produce
from tests.harness import Cluster
from tests.reliability import owned_partitions

WINDOW_S = 10.0


@dataclass
class RateRun:
    """One offered rate: what was sent, the backlog over time, when it drained."""

    rate: float
    group: str
    sent: int = 0
    started_ms: int = 0
    stopped_ms: int = 0
    #: (seconds since the start, events sent but not yet scored)
    backlog: list[tuple[float, int]] = field(default_factory=list)
    drained_s: float | None = None
    behind_at_start: int = 0
    gave_up_ms: int = 0
    #: role ("workers", "broker", "harness") -> CPU seconds while this rate was sent
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def sending_s(self) -> float:
        return (self.stopped_ms - self.started_ms) / 1000

    def bounded(self) -> bool | None:
        """The rule of the module docstring; ``None`` without enough samples."""
        window = min(WINDOW_S, self.sending_s / 2)
        means = window_means(self.backlog, self.sending_s, window)
        return None if means is None else is_bounded(means, window, self.rate)


def cpu_now(processes: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far per role: its processes' (by pid), and this process's own as ``harness``."""
    return {role: sum(cpu_seconds(pid) for pid in pids) for role, pids in processes.items()} | {
        "harness": time.process_time()
    }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (``inf`` for unscored events)."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(share * len(values)) - 1))]


def show_ms(value: float, unscored_bound: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f">{unscored_bound:,.0f}" if math.isinf(value) else f"{value:,.0f}"


def offer(cluster: Cluster, run: RateRun, count: int, customers: int, seed: int, stop: threading.Event) -> None:
    """Send ``count`` events at ``run.rate``; ``run.sent`` counts them as they go."""

    topics = {name: cluster.topic(name) for name in traffic.MIX}  # a name costs a Settings: not per event

    def records() -> Iterator[tuple[str, bytes, bytes]]:
        stream = traffic.events(customers, seed, traffic.wall_clock, id_prefix=f"{run.group}-")
        for topic, key, value in stream:
            if run.sent >= count or stop.is_set():
                return
            run.sent += 1
            yield topics[topic], key, value

    asyncio.run(produce(cluster.settings, records(), run.rate))


def run_rate(live: Live, rate: float, args: argparse.Namespace, behind: int, step: int) -> RateRun:
    # The step in the group name keeps a rate offered twice apart (event ids start with it).
    run = RateRun(rate=rate, group=f"s{step}r{rate:g}", behind_at_start=behind)
    count = int(rate * args.seconds)
    stop = threading.Event()
    producer = threading.Thread(
        target=offer, args=(live.cluster, run, count, args.customers, args.seed + int(rate), stop)
    )
    run.started_ms = now_ms()
    started = time.monotonic()
    cpu_before = cpu_now(live.processes)
    producer.start()
    try:
        while producer.is_alive():
            producer.join(1.0)
            if not live.alive():
                raise RuntimeError("the worker exited")
            run.backlog.append((time.monotonic() - started, run.sent - live.reader.counts[run.group]))
            if sys.stdout.isatty():
                print(f"  {rate:,.0f}/s: {run.sent:,} sent, backlog {run.backlog[-1][1]:,}", end="\r", flush=True)
    finally:
        stop.set()
        producer.join()
    run.stopped_ms = now_ms()
    run.cpu_s = {role: spent - cpu_before[role] for role, spent in cpu_now(live.processes).items()}
    stopped = time.monotonic()
    while time.monotonic() - stopped < args.drain_limit:
        if live.reader.counts[run.group] >= run.sent:
            run.drained_s = time.monotonic() - stopped
            break
        if not live.alive():
            raise RuntimeError("the worker exited")
        time.sleep(0.2)
    run.gave_up_ms = now_ms()
    if sys.stdout.isatty():
        print(" " * 60, end="\r")
    return run


def report_row(run: RateRun, reader: ScoreReader) -> str:
    prefix = f"{run.group}-"
    scores = [score for score in reader.scores if score.event_id.startswith(prefix)]
    unscored = max(0, run.sent - len(scores))
    latency = sorted([float(s.emitted_at - s.ts) for s in scores] + [math.inf] * unscored)
    e2e = sorted([float(s.received - s.ts) for s in scores] + [math.inf] * unscored)
    bound = run.gave_up_ms - run.stopped_ms  # an unscored event was sent before sending stopped
    during = sum(1 for s in scores if s.emitted_at <= run.stopped_ms)
    final = run.backlog[-1][1] if run.backlog else 0
    bounded = run.bounded()
    drained = f"{run.drained_s:.1f}" if run.drained_s is not None else f">{bound / 1000:.0f}"
    note = f"started {run.behind_at_start:,} events behind" if run.behind_at_start else ""
    return (
        f"{run.rate:>7,.0f} {run.sent / run.sending_s:>9,.0f} {run.sent:>8,} {during / run.sending_s:>9,.0f} "
        f"{show_ms(percentile(latency, 0.50), bound):>8} {show_ms(percentile(latency, 0.95), bound):>8} "
        f"{show_ms(percentile(latency, 0.99), bound):>8} {show_ms(percentile(e2e, 0.99), bound):>8} "
        f"{max((value for _, value in run.backlog), default=0):>11,} {final:>9,} {drained:>7} "
        f"{'n/a' if bounded is None else 'yes' if bounded else 'no':>7}  {note}"
    )


@dataclass
class Live:
    """One embedded broker with its workers and a score reader, for one or more rates."""

    cluster: Cluster
    reader: ScoreReader
    workers: dict[str, subprocess.Popen[bytes]]
    #: role ("workers", "broker") -> pids whose CPU the rows report
    processes: dict[str, list[int]]

    def alive(self) -> bool:
        return all(worker.poll() is None for worker in self.workers.values())


@contextmanager
def live_cluster(args: argparse.Namespace, workdir: Path) -> Iterator[Live]:
    """A fresh broker and ``args.workers`` workers, warmed up; a failure prints the worker's log."""
    workdir.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        cluster = Cluster(broker=broker, prefix="latency-", workdir=workdir, partitions=args.partitions)
        cluster.create_topics()
        reader = ScoreReader(broker.bootstrap, cluster.topic("customer-scores"), group=lambda e: e.split("-")[0])
        reader.start()
        workers = {f"w{number}": cluster.start_worker(f"w{number}") for number in range(1, args.workers + 1)}
        assert broker.process is not None
        processes = {"workers": [worker.pid for worker in workers.values()], "broker": [broker.process.pid]}
        live = Live(cluster, reader, workers, processes)
        try:
            warm_up(live, args)
            yield live
        except RuntimeError as exc:
            print(f"\n{exc}; worker log: {workdir / 'worker-w1.log'}")
            print(cluster.worker_log()[-3000:])
            raise
        finally:
            cluster.stop_all()
            reader.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,2000,5000", help="offered loads, events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each rate is offered")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--drain-limit", type=float, default=120.0, help="longest wait for a rate's backlog")
    parser.add_argument("--warm-up", type=int, default=500, help="events scored on each broker before its first rate")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep logs and state in this directory")
    parser.add_argument("--workers", type=int, default=1, help="workers in the group, one process each")
    parser.add_argument(
        "--one-broker", action="store_true", help="offer every rate to one broker and worker, one after another"
    )
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers needs 1 or more")
    rates = [float(value) for value in args.rates.split(",") if value.strip()]
    if not rates or min(rates) <= 0:
        parser.error("--rates needs one or more positive numbers")

    print(
        f"latency: {args.workers} worker(s), {', '.join(f'{rate:,.0f}' for rate in rates)} events/s "
        f"for {args.seconds:g} s each, "
        f"{args.customers:,} customers (75% clicks, 20% orders, 5% reviews), {args.partitions} partitions, "
        f"{'one broker for all rates' if args.one_broker else 'a fresh broker and worker(s) per rate'}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        try:
            rows = measure_on_one_broker(rates, args, workdir) if args.one_broker else measure(rates, args, workdir)
        except RuntimeError:
            return 1
    report(rows)
    return 0


def measure(rates: list[float], args: argparse.Namespace, workdir: Path) -> list[tuple[RateRun, str]]:
    """Each rate on a broker and worker(s) of its own (why: the module docstring)."""
    rows = []
    for step, rate in enumerate(rates, start=1):
        with live_cluster(args, workdir / f"rate-{step}") as live:
            run = run_rate(live, rate, args, 0, step)
            rows.append((run, report_row(run, live.reader)))
    return rows


def measure_on_one_broker(rates: list[float], args: argparse.Namespace, workdir: Path) -> list[tuple[RateRun, str]]:
    """Every rate in turn on one broker and worker(s), each starting when the one before drained."""
    with live_cluster(args, workdir) as live:
        runs: list[RateRun] = []
        for step, rate in enumerate(rates, start=1):
            behind = sum(max(0, earlier.sent - live.reader.counts[earlier.group]) for earlier in runs)
            runs.append(run_rate(live, rate, args, behind, step))
        return [(run, report_row(run, live.reader)) for run in runs]


def warm_up(live: Live, args: argparse.Namespace) -> None:
    """Send ``args.warm_up`` events and wait until they are scored and every worker owns partitions."""
    started = time.monotonic()
    warm = RateRun(rate=max(100.0, args.warm_up / 5), group="warm")
    offer(live.cluster, warm, args.warm_up, args.customers, args.seed, threading.Event())
    while live.reader.counts["warm"] < warm.sent:
        if not live.alive():
            raise RuntimeError("the worker exited during the warm-up")
        if time.monotonic() - started > 180:
            raise RuntimeError(f"warm-up: {live.reader.counts['warm']} of {warm.sent} events scored after 180 s")
        time.sleep(0.2)
    names = list(live.workers)
    while len(names) > 1 and not all(owned_partitions(live.cluster, name) for name in names):
        if time.monotonic() - started > 180:
            raise RuntimeError("not every worker owned partitions within 180 s")
        time.sleep(0.5)
    print(f"worker(s) up and warm: {warm.sent} events scored {time.monotonic() - started:.1f} s after start")


def report(rows: list[tuple[RateRun, str]]) -> None:
    print()
    print(
        f"{'rate/s':>7} {'offered/s':>9} {'sent':>8} {'scored/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'e2e p99':>8} {'max backlog':>11} {'final':>9} {'drained':>7} {'bounded':>7}"
    )
    for _, row in rows:
        print(row)
    print()
    for run, _ in rows:
        shares = ", ".join(f"{role} {100 * spent / run.sending_s:.0f}%" for role, spent in run.cpu_s.items())
        print(f"{run.rate:>7,.0f}/s: CPU while sending, share of one core: {shares}")
    print(
        f"bounded: the mean backlog over the last {WINDOW_S:g} s of sending exceeds the mean over the "
        f"{WINDOW_S:g} s before by less than {GROWTH_LIMIT:.0%} of the events offered in {WINDOW_S:g} s"
    )


if __name__ == "__main__":
    raise SystemExit(main())
