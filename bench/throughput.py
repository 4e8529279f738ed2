"""Throughput: the worker against a raw consumer, a plain Faust pipeline and Quix Streams.

Generates ``--events`` events (default 200,000 over 20,000 customers: 75% clicks in
30-minute sessions, 20% orders, 5% reviews; event time spread evenly over ``--days``, so
the models warm up, fit and learn as in production; seeded), produces them once into
the input topics of one embedded broker, then runs each contender on them in turn, each
with its own consumer group and output topics, so none sees another's records:

- ``raw``: the consume ceiling, aiokafka reading the input topics and orjson decoding
  every value, nothing else (``bench/reference/consume.py``);
- ``faust``: the plain reference pipeline, the same engine written the straightforward
  way (one agent, a table write and a ``topic.send`` per event;
  ``bench/reference/faust_app.py``). It is slow, so by default it processes only the
  first ``--reference-events`` (30,000) events, and is compared with the worker on the
  same prefix;
- ``quix``: the same logic on Quix Streams (``bench/reference/quix_app.py``; needs the
  ``bench`` extra: ``pip install -e '.[bench]'``, skipped with a note otherwise);
- ``worker``: ``pulse worker`` as deployed, every score on;
- ``scaleout`` (only when named in ``--only``): two ``pulse worker`` processes in one
  group, one per core, as a deployment scales out. Each worker's models learn from the
  partitions it owns, so its scores are not a backtest's; events/s counts each event
  once, however many score records the start-up rebalance gave it.

Each runs as its own process. Figures per contender:

- events/s: steady rate, from its first output record to its last (``emitted_at``, the
  engine's stamp when it scored the event), so start-up is left out; the raw consumer
  from its first record read to its last;
- wall s: from launching the process to its last output, start-up included;
- peak RSS: ``VmHWM`` of the process; CPU s: its user + system time, read from ``/proc``
  when the last output was seen (start-up included, shutdown not);
- for the worker, the seconds it spent in batches (its ``pulse_processing_seconds``: the
  engine over each event and the state flush), against its CPU seconds in all.

A contender still running after ``--time-limit`` seconds is stopped and measured on what
it did. Ratios compare two contenders over the same number of events, the smaller of the
two counts (the first N events each scored), so a prefix run is compared with the
worker's rate over the same prefix. Targets: worker >= 10x the reference Faust
pipeline, >= 1.5x Quix Streams, >= 10,000 events/s.

    python bench/throughput.py [--events 200000] [--customers 20000] [--days 120]
                               [--only raw,faust,quix,worker,scaleout] [--reference-events 30000]
                               [--time-limit 180]

A quick run: ``--events 20000 --customers 2000``. The worker and the reference apps write
their logs to a temporary directory that is removed at the end; ``--keep DIR`` keeps
them in DIR instead.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reference import traffic
from bench.reference.procstat import Usage, combined
from bench.reference.scores import ScoreReader
from models.timeutil import now_ms
from stream.broker import EmbeddedBroker
from stream.producer import producer_for
from stream.settings import Settings
from stream.topics import INPUT_TYPES
from tests.harness import Cluster, scrape

ROOT = Path(__file__).resolve().parents[1]
CONTENDERS = ("raw", "faust", "quix", "worker", "scaleout")
DEFAULT_CONTENDERS = ("raw", "faust", "quix", "worker")
LABELS = {
    "raw": "raw consume (aiokafka + orjson)",
    "faust": "reference Faust (plain)",
    "quix": "reference Quix Streams",
    "worker": "customer-pulse worker",
    "scaleout": "customer-pulse, two workers",
}
APP_IDS = {"faust": "bench-reference-faust", "quix": "bench-reference-quix"}
PROCESSING_SUM = "pulse_processing_seconds_sum"
OUTPUTS = ("customer-scores", "customer-alerts", "events-dlq")
#: Quix derives its changelog's retention from the input topics' configs, which the
#: embedded broker reports only when they were given at creation.
TOPIC_CONFIGS = {"retention.ms": "-1", "retention.bytes": "-1"}
TARGET_VS_FAUST, TARGET_VS_QUIX, TARGET_RATE = 10.0, 1.5, 10_000.0


@dataclass
class Run:
    """What one contender did."""

    name: str
    target: int
    launched_ms: int
    #: Output stamps (ms) of the first ``target`` events, sorted.
    stamps: list[int] = field(default_factory=list)
    usage: Usage | None = None
    #: CPU seconds the broker spent while this contender ran (it shares the 2 cores).
    broker_cpu_s: float = float("nan")
    note: str = ""
    #: The raw consumer reports a count and its first and last read instead of stamps.
    read: tuple[int, int, int] | None = None
    #: Seconds the worker(s) spent in batches (the engine over each event, the state flush),
    #: from their ``pulse_processing_seconds``; the rest of their CPU is Faust, Kafka, start-up.
    batch_s: float = float("nan")

    @property
    def done(self) -> int:
        return self.read[0] if self.read else len(self.stamps)

    def rate(self, upto: int | None = None) -> float:
        """Events/s from the first output to the ``upto``-th (default: the last)."""
        if self.read:
            count, first, last = self.read
            return count / ((last - first) / 1000) if last > first else float("nan")
        stamps = self.stamps[: upto or self.done]
        if len(stamps) < 2 or stamps[-1] == stamps[0]:
            return float("nan")
        return (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1000)

    @property
    def wall_s(self) -> float:
        last = self.read[2] if self.read else self.stamps[-1] if self.stamps else None
        return float("nan") if last is None else (last - self.launched_ms) / 1000


def make_events(args: argparse.Namespace) -> list[tuple[str, bytes, bytes]]:
    stream = traffic.events(args.customers, args.seed, traffic.spread(args.events, args.days))
    gc.disable()  # a growing list of small objects: the collector would rescan it again and again
    try:
        return list(itertools.islice(stream, args.events))
    finally:
        gc.enable()


async def produce_all(settings: Settings, records: list[tuple[str, bytes, bytes]]) -> int:
    """Send every record as fast as the broker takes them, in order per partition."""
    producer = producer_for(settings, linger_ms=20, max_batch_size=1024 * 1024, request_timeout_ms=300_000)
    await producer.start()
    try:
        for start in range(0, len(records), 20_000):
            chunk = records[start : start + 20_000]
            await asyncio.gather(*[await producer.send(topic, value=value, key=key) for topic, key, value in chunk])
    finally:
        await producer.stop()
    return len(records)


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=TOPIC_CONFIGS) for name in names])
    finally:
        await admin.close()


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM to the process group, then SIGKILL if it does not exit in time."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_scoring(
    name: str,
    start: Callable[[], list[subprocess.Popen[bytes]]],
    broker: EmbeddedBroker,
    scores_topic: str,
    target: int,
    time_limit: float,
    log: Path,
    metrics_ports: list[int] | None = None,
) -> Run:
    """Start a contender's processes, wait until ``target`` events are scored (or the limit),
    stop them, measure them (and read the workers' batch time from ``metrics_ports``)."""
    reader = ScoreReader(broker.bootstrap, scores_topic).start()
    run = Run(name, target, now_ms())
    started = time.monotonic()
    processes = start()
    usages = [Usage(process.pid) for process in processes]
    try:
        while True:
            time.sleep(0.5)
            for usage in usages:
                usage.sample()
            if reader.error is not None:
                raise RuntimeError(f"reading {scores_topic} failed: {reader.error!r}")
            if reader.distinct >= target:
                break
            exited = [process for process in processes if process.poll() is not None]
            if exited:
                run.note = f"exited with code {exited[0].returncode} (log: {log})"
                break
            if time.monotonic() - started > time_limit:
                run.note = f"stopped at the {time_limit:.0f} s limit"
                break
            if sys.stdout.isatty():
                print(f"  {name}: {reader.distinct:,} of {target:,} scored", end="\r", flush=True)
        for usage in usages:
            usage.sample()
        if metrics_ports:
            run.batch_s = batch_seconds(metrics_ports)
    finally:
        if sys.stdout.isatty():
            print(" " * 60, end="\r")
        for process in processes:
            stop_process(process)
        reader.wait_caught_up(time.monotonic(), timeout=30)
        reader.stop()
    run.usage = combined(usages)
    if reader.count > reader.distinct:
        run.note = f"{reader.count - reader.distinct:,} duplicate score records"
    run.stamps = reader.first_stamps()[:target]
    if run.done < target and not run.note:
        run.note = f"{run.done:,} of {target:,} scored"
    elif run.done < target:
        run.note += f" after {run.done:,} of {target:,}"
    return run


def batch_seconds(ports: list[int]) -> float:
    """The workers' time in batches so far, summed (NaN if a worker does not answer)."""
    try:
        scrapes = [scrape(port) for port in ports]
    except OSError:
        return float("nan")
    return sum(value for samples in scrapes for (name, _), value in samples.items() if name == PROCESSING_SUM)


def run_raw(broker: EmbeddedBroker, topics: list[str], target: int, time_limit: float) -> Run:
    """The consume ceiling, in its own process, which reports its own figures."""
    run = Run("raw", target, now_ms())
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.reference.consume", broker.bootstrap, str(target), *topics],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=time_limit)
    except subprocess.TimeoutExpired:
        stop_process(process)
        run.note = f"stopped at the {time_limit:.0f} s limit"
        return run
    finally:
        if process.returncode is None:
            stop_process(process)
    if process.returncode != 0 or not output.strip():
        run.note = f"exited with code {process.returncode}"
        return run
    result = orjson.loads(output.splitlines()[-1])  # the child's own count, times and usage
    run.read = (result["count"], result["first_ms"], result["last_ms"])
    run.usage = Usage(process.pid, result["peak_rss_mib"], result["cpu_s"])
    return run


def ratio_line(runs: dict[str, Run], other: str, target: float) -> str:
    """The worker's rate over ``other``'s, both over the same number of events."""
    worker = runs["worker"]
    if other not in runs or not worker.done or not runs[other].done:
        return f"worker / {LABELS[other]}: not measured; target >= {target:g}x"
    common = min(worker.done, runs[other].done)
    rate, other_rate = worker.rate(common), runs[other].rate(common)
    over = "" if common == worker.done == runs[other].done else f" over the first {common:,} events of each"
    verdict = "PASS" if rate >= target * other_rate else "FAIL"
    return (
        f"worker / {LABELS[other]}: {rate / other_rate:.2f}x ({rate:,.0f} against {other_rate:,.0f} events/s{over}); "
        f"target >= {target:g}x: {verdict}"
    )


def report(runs: dict[str, Run], args: argparse.Namespace) -> bool:
    print()
    print(
        f"{'contender':<32} {'events':>8} {'events/s':>9} {'wall s':>7} {'peak RSS MiB':>12} {'CPU s':>7} "
        f"{'broker CPU s':>12}  note"
    )
    for name, run in runs.items():
        usage = run.usage or Usage(0)
        print(
            f"{LABELS[name]:<32} {run.done:>8,} {run.rate():>9,.0f} {run.wall_s:>7.1f} {usage.peak_rss_mib:>12.0f} "
            f"{usage.cpu_s:>7.1f} {run.broker_cpu_s:>12.1f}  {run.note}"
        )
    print()
    passed = True
    for other, target in (("faust", TARGET_VS_FAUST), ("quix", TARGET_VS_QUIX)):
        if "worker" in runs:
            line = ratio_line(runs, other, target)
            passed &= not line.endswith("FAIL")
            print(line)
    if "raw" in runs and "worker" in runs and runs["worker"].done:
        share = runs["worker"].rate() / runs["raw"].rate()
        print(f"worker / raw consume ceiling: {share:.1%}")
    if "worker" in runs:
        rate = runs["worker"].rate()
        ok = rate >= TARGET_RATE and runs["worker"].done == args.events
        passed &= ok
        print(f"worker: {rate:,.0f} events/s; target >= {TARGET_RATE:,.0f}: {'PASS' if ok else 'FAIL'}")
    if "scaleout" in runs and runs["scaleout"].done:
        print(scaleout_line(runs))
    for name in ("worker", "scaleout"):
        if name in runs and runs[name].usage is not None:
            print(split_line(runs[name]))
    return passed


def split_line(run: Run) -> str:
    """Where a worker's CPU went: its batches (engine and state flush) against everything else."""
    cpu = run.usage.cpu_s if run.usage else float("nan")
    return (
        f"{LABELS[run.name]}: {run.batch_s:.1f} s in batches (wall time: the engine over each event, the state "
        f"flush) of {cpu:.1f} CPU s in all; the rest is Faust's consumer and streams, producing, start-up"
    )


def scaleout_line(runs: dict[str, Run]) -> str:
    """Two workers against one: what adding a worker per core gives (no target: not one worker)."""
    scaled = runs["scaleout"]
    line = f"two workers: {scaled.rate():,.0f} events/s"
    if "worker" in runs and runs["worker"].done:
        line += f", {scaled.rate() / runs['worker'].rate():.2f}x one worker"
    for other in ("faust", "quix"):
        if other in runs and runs[other].done:
            common = min(scaled.done, runs[other].done)
            line += f", {scaled.rate(common) / runs[other].rate(common):.2f}x {LABELS[other]}"
    return line + " (each worker's models learn from its own partitions)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=120.0, help="event time the events span")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--only", default=",".join(DEFAULT_CONTENDERS), help=f"contenders, from {','.join(CONTENDERS)}")
    parser.add_argument(
        "--reference-events", type=int, default=30_000, help="events the plain Faust pipeline processes (0: all)"
    )
    parser.add_argument("--time-limit", type=float, default=180.0, help="seconds a contender may run")
    parser.add_argument("--keep", type=Path, help="keep logs and state in this directory")
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contender(s) {', '.join(unknown)}; choose from {', '.join(CONTENDERS)}")
    names = [name for name in CONTENDERS if name in names]  # always in the same order
    if "quix" in names and importlib.util.find_spec("quixstreams") is None:
        print("reference Quix Streams skipped: quixstreams is not installed (pip install -e '.[bench]')")
        names.remove("quix")

    clock = time.monotonic()
    events = make_events(args)
    mix = {topic: sum(1 for t, _k, _v in events if t == topic) for topic in traffic.MIX}
    print(
        f"throughput: {len(events):,} events over {args.customers:,} customers and {args.days:g} days of event time "
        f"({', '.join(f'{count:,} {topic}' for topic, count in mix.items())}), {args.partitions} partitions, "
        f"seed {args.seed}; generated in {time.monotonic() - clock:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
            cluster = Cluster(broker=broker, prefix="bench-", workdir=workdir, partitions=args.partitions)
            inputs = [cluster.topic(name) for name in INPUT_TYPES]
            reference_outputs = [f"{app}-{name}" for app in APP_IDS.values() for name in OUTPUTS]
            asyncio.run(create_topics(broker.bootstrap, [*inputs, *reference_outputs], args.partitions))
            # Two workers write to topics of their own: their score records must not mix with one worker's.
            scaled = Cluster(
                broker=broker, prefix="bench-scaleout-", workdir=workdir / "scaleout", partitions=args.partitions
            )
            sent = 0
            for target in [cluster, scaled] if "scaleout" in names else [cluster]:
                target.workdir.mkdir(exist_ok=True)
                target.create_topics()  # the worker's own: outputs, erasure, re-key
                clock = time.monotonic()
                topics = {name: target.topic(name) for name in traffic.MIX}
                records = [(topics[topic], key, value) for topic, key, value in events]
                sent = asyncio.run(produce_all(target.settings, records))
                elapsed = time.monotonic() - clock
                print(
                    f"produced {sent:,} events to {target.prefix}* in {elapsed:.1f} s ({sent / elapsed:,.0f} events/s)"
                )
            del events, records

            runs: dict[str, Run] = {}
            env = {**os.environ, **cluster.env, "PYTHONPATH": str(ROOT)}
            for name in names:
                print(f"running {LABELS[name]} ...", flush=True)
                broker_usage = Usage(broker.process.pid) if broker.process else Usage(0)
                broker_usage.sample()
                broker_before = broker_usage.cpu_s
                runs[name] = run_contender(
                    name, args, scaled if name == "scaleout" else cluster, env, inputs, sent, workdir
                )
                broker_usage.sample()
                runs[name].broker_cpu_s = broker_usage.cpu_s - broker_before
            cluster.stop_all()
            scaled.stop_all()
    return 0 if report(runs, args) else 1


def run_contender(
    name: str,
    args: argparse.Namespace,
    cluster: Cluster,
    env: dict[str, str],
    inputs: list[str],
    sent: int,
    workdir: Path,
) -> Run:
    if name == "raw":
        return run_raw(cluster.broker, inputs, sent, args.time_limit)
    if name in ("worker", "scaleout"):
        names = ["w1"] if name == "worker" else ["w1", "w2"]

        def start() -> list[subprocess.Popen[bytes]]:
            return [cluster.start_worker(worker) for worker in names]

        scores, target, log = cluster.topic("customer-scores"), sent, cluster.workdir / "worker-w1.log"
        ports = [cluster.port(worker) for worker in names]
    else:
        ports = []
        app_id = APP_IDS[name]
        argv = [sys.executable, "-m", f"bench.reference.{name}_app"]
        argv += ["worker", "-l", "warn"] if name == "faust" else []
        app_env = {**env, "BENCH_APP_ID": app_id, "PULSE_DATA_DIR": str(workdir / f"data-{name}")}
        log = workdir / f"{name}.log"
        start = _starter(argv, app_env, log)
        scores = f"{app_id}-customer-scores"
        target = min(sent, args.reference_events or sent) if name == "faust" else sent
    run = run_scoring(name, start, cluster.broker, scores, target, args.time_limit, log, ports)
    if target < sent:
        run.note = (run.note + "; " if run.note else "") + f"first {target:,} events only (--reference-events)"
    return run


def _starter(argv: list[str], env: dict[str, str], log: Path) -> Callable[[], list[subprocess.Popen[bytes]]]:
    def start() -> list[subprocess.Popen[bytes]]:
        with open(log, "ab") as out:
            return [
                subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            ]

    return start


if __name__ == "__main__":
    raise SystemExit(main())
