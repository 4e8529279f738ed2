"""The ``pulse`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from models.errors import PulseError
from stream.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except PulseError as exc:
        print(f"pulse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pulse", description="Real-time customer intelligence on Kafka.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    broker = commands.add_parser("broker", help="run the embedded Kafka-compatible broker in the foreground")
    broker.add_argument("--port", type=int, default=9092)
    broker.add_argument("--host", default="127.0.0.1")
    broker.set_defaults(handler=_broker)

    worker = commands.add_parser("worker", help="run the Faust worker (settings from PULSE_* variables)")
    worker.set_defaults(handler=_worker)

    generate = commands.add_parser("generate", help="write a realistic synthetic event log")
    generate.add_argument("--customers", type=int, default=1000)
    generate.add_argument("--days", type=int, default=180)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--out", type=Path, required=True, help="event log (.jsonl or .jsonl.gz)")
    generate.add_argument("--truth", type=Path, help="ground truth side file (JSON)")
    generate.set_defaults(handler=_generate)

    replay = commands.add_parser("replay", help="produce an event log into the input topics")
    replay.add_argument("log", type=Path, help="event log: JSONL or CSV, plain or gzip")
    replay.add_argument("--speed", default="max", help="'max' (default), or N: event time N times faster")
    replay.add_argument("--from", dest="start", help="only events at or after this ISO time")
    replay.add_argument("--to", dest="end", help="only events before this ISO time")
    replay.add_argument("--topic-prefix", help="prefix of the topics to produce to (default PULSE_TOPIC_PREFIX)")
    replay.add_argument("--resume-from", type=int, default=1, metavar="LINE", help="first line to send")
    replay.set_defaults(handler=_replay)

    backtest = commands.add_parser("backtest", help="run an event log through the engine in-process")
    backtest.add_argument("log", type=Path)
    backtest.add_argument("--scores-out", type=Path, help="score records (JSONL, .gz for gzip)")
    backtest.add_argument("--dlq-out", type=Path, help="dead letters for invalid lines (JSONL)")
    backtest.add_argument("--state-out", type=Path, help="final state per customer (JSONL)")
    backtest.add_argument("--horizon-days", type=int, help="churn / value horizon H (default PULSE_HORIZON_DAYS)")
    backtest.add_argument("--snapshot-at", help="ISO-8601 time of a per-customer snapshot")
    backtest.add_argument("--snapshot-out", type=Path, help="snapshot CSV: every score and state field per customer")
    backtest.add_argument("--rules", type=Path, help="alert rule file (default PULSE_ALERT_RULES or the packaged one)")
    backtest.add_argument("--alerts-out", type=Path, help="alert records the rules would have sent (JSONL)")
    backtest.add_argument("--report", type=Path, metavar="DIR", help="write report.html and metrics.json here")
    backtest.set_defaults(handler=_backtest)

    alerts = commands.add_parser("alerts", help="work with the customer-alerts topic")
    alert_commands = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    tail = alert_commands.add_parser("tail", help="follow the alert topic and print alerts readably")
    tail.add_argument("--rule", help="only this rule's alerts")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest alert, not the next one")
    tail.add_argument("--max", type=int, help="stop after this many alerts")
    tail.set_defaults(handler=_alerts_tail)

    forget = commands.add_parser("forget", help="erase a customer from the workers' state and models")
    forget.add_argument("customer_id")
    forget.add_argument(
        "--wait", type=float, default=60.0, metavar="S", help="seconds to wait for a worker to confirm (0: do not wait)"
    )
    forget.set_defaults(handler=_forget)

    datasets = commands.add_parser("datasets", help="convert a real data set into an event log")
    datasets.add_argument("name", help="cdnow, online-retail, womens-reviews, olist, online-shoppers or otto")
    datasets.add_argument("--out", type=Path, required=True, help="event log (.jsonl or .jsonl.gz)")
    datasets.add_argument("--source", type=Path, help="the data file (for olist its folder)")
    datasets.set_defaults(handler=_datasets)

    demo = commands.add_parser("demo", help="embedded broker + worker + generated traffic, with a live summary")
    demo.add_argument("--customers", type=int, default=2000)
    demo.add_argument("--days", type=int, default=365)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--rate", type=float, default=400.0, help="events per second sent to the broker")
    demo.add_argument("--port", type=int, default=0, help="broker port (default: a free one)")
    demo.set_defaults(handler=_demo)
    return parser


def _broker(args: argparse.Namespace) -> int:
    from stream.broker import EmbeddedBroker

    with EmbeddedBroker(port=args.port, host=args.host) as broker:
        print(f"embedded broker listening on {broker.url} (memory storage); Ctrl-C to stop", flush=True)
        _wait_for_signal()
    return 0


def _wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _worker(args: argparse.Namespace) -> int:
    from stream.security import redact_logs
    from stream.worker import run_worker

    settings = Settings.from_env()
    redact_logs(settings)
    run_worker(settings)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from models.eventlog import write_log
    from models.generator import GeneratorConfig, generate, write_truth

    events, truth = generate(GeneratorConfig(customers=args.customers, days=args.days, seed=args.seed))
    count = write_log(args.out, events)
    if args.truth:
        write_truth(truth, args.truth)
    print(f"wrote {count} events for {args.customers} customers over {args.days} days to {args.out}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from models.errors import ConfigError
    from models.eventlog import iter_lines
    from models.timeutil import TimestampError, parse_ts
    from stream.replay import Progress, ReplayOptions, replay
    from stream.topics import ensure_topics

    settings = Settings.from_env()
    if args.topic_prefix is not None:
        settings = replace(settings, topic_prefix=args.topic_prefix)._validated()
    try:
        speed = None if args.speed == "max" else float(args.speed)
        if speed is not None and not speed > 0:
            raise ValueError(args.speed)
    except ValueError:
        raise ConfigError(f"--speed must be 'max' or a positive number, got {args.speed!r}") from None
    try:
        start = parse_ts(args.start) if args.start else None
        end = parse_ts(args.end) if args.end else None
    except TimestampError as exc:
        raise ConfigError(f"--from/--to: {exc}") from exc
    if args.resume_from < 1:
        raise ConfigError(f"--resume-from must be a line number (1 or more), got {args.resume_from}")
    total = sum(1 for _ in iter_lines(args.log))
    options = ReplayOptions(speed=speed, start_ts=start, end_ts=end, resume_from=args.resume_from)

    async def run() -> str:
        await ensure_topics(settings)
        result = await replay(args.log, settings, options, Progress(total))
        return result.summary()

    print(asyncio.run(run()))
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from models.errors import ConfigError
    from models.timeutil import TimestampError, parse_ts
    from stream.backtest import run_backtest
    from stream.gcpolicy import settle_collector

    settings = Settings.from_env()
    if args.horizon_days:
        settings = replace(settings, horizon_days=args.horizon_days)
    if args.rules:
        settings = replace(settings, alert_rules=args.rules)._validated()
    snapshot = None
    if args.snapshot_at or args.snapshot_out:
        if not (args.snapshot_at and args.snapshot_out):
            raise ConfigError("--snapshot-at and --snapshot-out go together")
        try:
            snapshot = (parse_ts(args.snapshot_at), args.snapshot_out)
        except TimestampError as exc:
            raise ConfigError(f"--snapshot-at: {exc}") from exc
    settle_collector()
    result = run_backtest(
        args.log,
        settings,
        args.scores_out,
        args.dlq_out,
        args.state_out,
        snapshot,
        alerts_out=args.alerts_out,
        report_dir=args.report,
    )
    print(result.summary())
    if result.report is not None:
        print(f"report: {result.report} (and metrics.json beside it)")
    return 0


def _forget(args: argparse.Namespace) -> int:
    from stream.forget import run_forget

    return run_forget(Settings.from_env(), args.customer_id, args.wait)


def _alerts_tail(args: argparse.Namespace) -> int:
    from stream.alerts_tail import run_tail

    return run_tail(Settings.from_env(), args.rule, args.from_beginning, args.max)


def _datasets(args: argparse.Namespace) -> int:
    from models.errors import ConfigError
    from stream.datasets import converters

    convert = converters().get(args.name)
    if convert is None:
        raise ConfigError(f"unknown data set {args.name!r}; known: {', '.join(sorted(converters()))}")
    print(convert(args.out, args.source).summary(args.out))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from stream.demo import Demo

    return asyncio.run(Demo(args.customers, args.days, args.seed, args.rate, args.port).run())


if __name__ == "__main__":
    sys.exit(main())
