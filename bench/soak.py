"""Soak: a worker under steady load for a long time; does memory settle, does lag stay bounded?

Sends events at a fixed rate (default 2,000/s for 20 minutes) over a large population
(default 100,000 customers: 75% clicks in 30-minute sessions, 20% orders, 5% reviews),
with event time = wall-clock time, into a worker on its own embedded broker. The first
events visit every customer once, in random order, so the whole population has state
early; then customers are drawn at random. Every ``--sample`` seconds it prints the
worker's resident memory (VmRSS), the consumer lag summed over partitions, the events
scored so far, event-time lag p99, RocksDB's memory, the open sessions and their
samples, and the buyers in the BG/NBD order book (from /metrics).

At the end it prints memory after warm-up against memory at the end (growth must stay
under 10%), the largest consumer lag after warm-up, and how far behind the worker was
when the producer stopped, and whether the lag is bounded: its mean over the last quarter
of the run after warm-up exceeds the mean over the quarter before by less than 2% of the
rate per second (the rule of ``bench/latency.py``, over longer windows). A run whose
producer sent less than 95% of ``--rate`` does not pass, whatever its memory did: it did
not soak at the rate asked. The ``broker %`` column
is the embedded broker's CPU over the last interval (200% is both cores), for telling a
worker that falls behind from a broker that does.

With ``--workers 2`` two workers share the partitions in one group, as a deployment scales
out; memory is then their resident memory added up, and lag and scores are summed over
both workers' metrics.

The models' per-customer buffers fill in event time: a session stays open until the
watermark (an hour behind the newest event) passes 30 minutes after its last click, so
open sessions and their samples keep growing for about 1.5 hours of event time, and a
run whose warm-up is shorter than that measures the buffers filling, not whether memory
settles. ``--time-scale N`` runs event time N times faster than the wall clock, starting
far enough in the past to reach the wall clock as the run ends (never in the future), so
a 12-minute warm-up at N=8 covers 1.6 hours of event time. Each customer then has N times
fewer events per hour of event time (fewer clicks per session). The ``p99 s`` column (the
engine's event-time lag) then mostly measures the clock's head start and is not shown.
A customer's state fills too: it keeps its last 32 event ids, 8 orders and 8 sessions (4
hours of event time, with half-hour session ids), and the order book gains every new
buyer. At 1,000 events/s over 100,000 customers the 8 orders take about 67 minutes; over
``--customers 20000`` about 13, and ``--time-scale 16`` brings the 8 sessions within 15.

The embedded broker keeps every record batch as an object and lists all of a partition's
objects on every fetch of it, so its CPU grows with the batches the partitions hold, and a
long soak ends up measuring the broker. The producer sends ``rate x --burst-ms`` records
at a time (one record batch per partition per burst). The default, 250 ms, makes five
times fewer, larger batches than 50 ms for the same events per second, which is what let
the embedded broker carry 2,000 events/s to two workers (runs in RELIABILITY.md).

    python bench/soak.py [--minutes 20] [--rate 2000] [--customers 100000] [--warm-up-minutes 5]
                         [--workers 1] [--time-scale 1] [--burst-ms 250]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import models.numerics  # noqa: F401  (pins numpy's CPU dispatch: before numpy loads)

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reference.backlog import is_bounded, window_means
from bench.reference.procstat import cpu_seconds
from models.jsonio import dumps
from models.timeutil import MS_PER_HOUR, now_ms
from stream.broker import EmbeddedBroker
from stream.producer import produce
from tests.harness import Cluster, scrape

#: Share of the asked rate the producer must reach for the run to count as a soak at that rate.
LOAD_HELD = 0.95

REVIEW_TEXTS = {
    5: "love it, great quality and fast delivery",
    4: "good value, would buy again",
    2: "disappointed, the fabric feels cheap",
    1: "terrible, broke after one day, want a refund",
}


def event_clock(scale: float, run_ms: float, started_ms: int) -> Callable[[], int]:
    """Event time now: the wall clock, or ``scale`` times faster, meeting it after ``run_ms``."""
    if scale == 1:
        return now_ms
    origin = started_ms - (scale - 1) * run_ms
    return lambda: int(origin + scale * (now_ms() - started_ms))


def traffic(
    topic: Callable[[str], str], customers: int, seed: int, clock: Callable[[], int] = now_ms
) -> Iterator[tuple[str, bytes, bytes]]:
    """An endless stream of (topic, key, value), stamped with ``clock``'s event times; ``topic``
    names the topic of ``orders``, ``clicks`` and ``reviews``."""
    rng = np.random.default_rng(seed)
    topics = {kind: topic(name) for kind, name in (("o", "orders"), ("k", "clicks"), ("r", "reviews"))}
    number = 0
    first_pass = rng.permutation(customers)
    for start in itertools.count(0, 1000):
        picks = first_pass[start : start + 1000] if start < customers else rng.integers(0, customers, 1000)
        kinds = rng.choice(["k", "o", "r"], 1000, p=[0.75, 0.20, 0.05])
        amounts = np.round(rng.lognormal(3.5, 0.6, 1000), 2)
        ratings = rng.choice([1, 2, 4, 5], 1000, p=[0.1, 0.1, 0.3, 0.5])
        actions = rng.choice(["view", "view", "view", "search", "add_to_cart", "checkout"], 1000)
        for pick, kind, amount, rating, action in zip(picks, kinds, amounts, ratings, actions, strict=False):
            number += 1
            ts = clock()
            customer = f"c{pick:06d}"
            event: dict = {"event_id": f"e{number}", "customer_id": customer, "ts": ts}
            if kind == "o":
                event |= {"order_id": f"o{number}", "amount": float(amount), "items": 1 + number % 3}
            elif kind == "k":
                event |= {"session_id": f"s{customer}-{ts // (MS_PER_HOUR // 2)}", "action": str(action)}
                event["product_id"] = f"p{number % 500}"
            else:
                event |= {"product_id": f"p{number % 500}", "rating": int(rating), "text": REVIEW_TEXTS[int(rating)]}
            yield topics[str(kind)], customer.encode(), dumps(event)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def scrape_all(cluster: Cluster, names: list[str]) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every worker's metrics, the same series of different workers added up."""
    total: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for name in names:
        total.update(scrape(cluster.port(name)))
    return total


def metric_sum(samples: dict, name: str, **labels: str) -> float:
    return sum(
        value for (metric, tags), value in samples.items() if metric == name and labels.items() <= dict(tags).items()
    )


def lag_p99(samples: dict) -> float:
    """p99 of event time to emit from the histogram's cumulative buckets (upper bound of its bucket)."""
    buckets = sorted(
        (float(dict(tags)["le"]), value)
        for (metric, tags), value in samples.items()
        if metric == "pulse_event_lag_seconds_bucket"
    )
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= 0.99 * total:
            return bound
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--warm-up-minutes", type=float, default=5.0)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="workers in the group, one process each")
    parser.add_argument("--time-scale", type=float, default=1.0, help="event time runs this many times faster")
    parser.add_argument("--burst-ms", type=float, default=250.0, help="the producer sends rate x this at a time")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers needs 1 or more")
    if args.rate <= 0 or args.minutes <= 0 or args.sample <= 0:
        parser.error("--rate, --minutes and --sample need positive values")
    if args.burst_ms <= 0:
        parser.error("--burst-ms needs a positive value")
    if args.time_scale < 1:
        parser.error("--time-scale needs 1 or more (event time cannot run slower than the wall clock)")

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(log_path=Path(tmp) / "broker.log") as broker:
        cluster = Cluster(broker=broker, prefix="soak-", workdir=Path(tmp), partitions=8)
        cluster.create_topics()
        names = [f"w{number}" for number in range(1, args.workers + 1)]
        workers = [cluster.start_worker(name) for name in names]
        stop = threading.Event()
        sent = [0]

        def records() -> Iterator[tuple[str, bytes, bytes]]:
            clock = event_clock(args.time_scale, args.minutes * 60_000, now_ms())
            for record in traffic(cluster.topic, args.customers, args.seed, clock):
                if stop.is_set():
                    return
                sent[0] += 1
                yield record

        def send() -> None:
            asyncio.run(produce(cluster.settings, records(), args.rate, args.burst_ms / 1000))

        producer = threading.Thread(target=send)
        time.sleep(5)  # the worker joins its group before the load starts
        started = time.monotonic()
        producer.start()
        print(
            f"soak: {args.rate:,.0f} events/s for {args.minutes:g} min over {args.customers:,} customers, "
            f"{args.workers} worker(s)" + (f", event time x{args.time_scale:g}" if args.time_scale != 1 else "")
        )

        def p99(samples: dict) -> str:
            return f"{lag_p99(samples):6.2f}" if args.time_scale == 1 else "-"

        print(
            f"{'min':>6} {'sent':>10} {'scored':>10} {'rss MiB':>8} {'lag':>8} {'p99 s':>6} {'customers':>9} "
            f"{'rocks MiB':>9} {'sessions':>8} {'samples':>8} {'buyers':>8} {'broker %':>8}"
        )
        rows: list[tuple[float, float, float]] = []
        broker_cpu = BrokerCpu(broker)
        try:
            while time.monotonic() - started < args.minutes * 60:
                time.sleep(args.sample)
                for name, worker in zip(names, workers, strict=True):
                    if worker.poll() is not None:
                        print(f"worker exited with code {worker.returncode}; see {cluster.workdir}/worker-{name}.log")
                        return 1
                samples = scrape_all(cluster, names)
                minute = (time.monotonic() - started) / 60
                rss = sum(rss_mib(worker.pid) for worker in workers)
                lag = metric_sum(samples, "pulse_consumer_lag")
                scored = metric_sum(samples, "pulse_events_total", outcome="scored")
                rows.append((minute, rss, lag))
                print(
                    f"{minute:6.1f} {sent[0]:10,} {scored:10,.0f} {rss:8.0f} {lag:8,.0f} {p99(samples):>6} "
                    f"{metric_sum(samples, 'pulse_customers'):9,.0f} "
                    f"{metric_sum(samples, 'pulse_store_memory_bytes') / 2**20:9.0f} "
                    f"{metric_sum(samples, 'pulse_buffer_entries', buffer='open_sessions'):8,.0f} "
                    f"{metric_sum(samples, 'pulse_buffer_entries', buffer='session_samples'):8,.0f} "
                    f"{metric_sum(samples, 'pulse_buffer_entries', buffer='order_book'):8,.0f} "
                    f"{broker_cpu.share():8.0f}",
                    flush=True,
                )
        finally:
            stop.set()
            producer.join()
        elapsed = time.monotonic() - started
        behind_at_stop = sent[0] - metric_sum(scrape_all(cluster, names), "pulse_events_total", outcome="scored")
        cluster.stop_all()

    after_warm_up = [row for row in rows if row[0] >= args.warm_up_minutes]
    if not after_warm_up:
        print("run shorter than the warm-up: no verdict")
        return 1
    base, end = after_warm_up[0][1], after_warm_up[-1][1]
    growth = (end - base) / base
    offered = sent[0] / elapsed
    print(f"sent {sent[0]:,} events in {elapsed:.0f} s ({offered:,.0f}/s, {offered / args.rate:.0%} of the rate asked)")
    print(
        f"rss after warm-up ({after_warm_up[0][0]:.1f} min) {base:.0f} MiB, at the end {end:.0f} MiB: "
        f"growth {growth:+.1%} (target < 10%), peak {max(row[1] for row in rows):.0f} MiB"
    )
    print(
        f"consumer lag after warm-up: max {max(row[2] for row in after_warm_up):,.0f}, "
        f"last {after_warm_up[-1][2]:,.0f}; events not yet scored when the producer stopped: {behind_at_stop:,.0f}"
    )
    bounded, lag_line = lag_bounded(after_warm_up, args.rate)
    print(lag_line)
    failures = []
    if bounded is None:
        failures.append("too few samples after warm-up to judge the lag (a longer run or a shorter --sample)")
    elif not bounded:
        failures.append("the consumer lag kept growing")
    if offered < LOAD_HELD * args.rate:
        failures.append(f"the producer sent {offered:,.0f}/s, under {LOAD_HELD:.0%} of {args.rate:,.0f}/s")
    if growth >= 0.10:
        failures.append("memory grew 10% or more after warm-up")
    print("FAIL: " + "; ".join(failures) if failures else "PASS")
    return 1 if failures else 0


def lag_bounded(rows: list[tuple[float, float, float]], rate: float) -> tuple[bool | None, str]:
    """Whether the lag stopped growing: the last quarter of ``rows`` against the quarter before;
    ``None`` when the quarters hold too few samples to tell."""
    lags = [(minute * 60, lag) for minute, _rss, lag in rows]
    end = lags[-1][0]
    window = (end - lags[0][0]) / 4
    means = window_means(lags, end, window)
    if means is None:
        return None, "lag bounded: not enough samples after warm-up to tell"
    bounded = is_bounded(means, window, rate)
    return bounded, (
        f"lag bounded: {'yes' if bounded else 'no'} (mean {means[0]:,.0f} over the last "
        f"{window / 60:.1f} min, {means[1]:,.0f} over the {window / 60:.1f} min before)"
    )


class BrokerCpu:
    """The embedded broker's CPU share between two calls, in percent of one core."""

    def __init__(self, broker: EmbeddedBroker) -> None:
        self.pid = broker.process.pid if broker.process else 0
        self.last = (time.monotonic(), self._cpu())

    def _cpu(self) -> float:
        try:
            return cpu_seconds(self.pid)
        except (OSError, ValueError):
            return float("nan")

    def share(self) -> float:
        now, cpu = time.monotonic(), self._cpu()
        (then, before), self.last = self.last, (now, cpu)
        return 100 * (cpu - before) / (now - then) if now > then else float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
