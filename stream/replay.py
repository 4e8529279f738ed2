"""``pulse replay LOG``: an event log into the input topics, keyed by customer id.

Each line is validated as the worker would: a valid event goes to its type's topic, an
invalid one to ``events-dlq`` with its reason (``topic`` names the log, ``offset`` the
line), so nothing is lost and nothing bad reaches the models.

``--speed N`` keeps the log's event-time spacing, compressed N-fold (``--speed 3600``
plays an hour a second); ``max`` sends as fast as the broker acknowledges. ``--from`` and
``--to`` keep a window of event time. A progress line on stderr shows rate and ETA.
Ctrl-C (or SIGTERM) stops after the records in flight are acknowledged and prints the
``--resume-from`` line that continues exactly where the replay stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import orjson

from models.errors import InvalidEvent
from models.eventlog import iter_lines
from models.events import decode_event
from models.jsonio import dumps
from models.records import dead_letter
from models.timeutil import now_ms
from stream.outbox import Outbox
from stream.producer import TOPIC_FOR_TYPE, producer_for
from stream.settings import Settings

IN_FLIGHT = 2_000  # records sent, in record batches per partition, before waiting for their acknowledgements


@dataclass
class ReplayOptions:
    speed: float | None = None  # None: as fast as the broker takes it
    start_ts: int | None = None
    end_ts: int | None = None
    resume_from: int = 1  # first line to send


@dataclass
class ReplayResult:
    sent: int = 0
    dead_letters: int = 0
    outside_window: int = 0
    last_line: int = 0  # every line up to here is acknowledged (or was skipped)
    stopped: bool = False
    seconds: float = 0.0
    by_topic: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        topics = ", ".join(f"{topic} {count:,}" for topic, count in sorted(self.by_topic.items()))
        line = (
            f"sent {self.sent:,} events ({topics or 'none'}) in {self.seconds:.1f} s, {rate:,.0f} events/s; "
            f"{self.dead_letters:,} invalid to the dead-letter topic; {self.outside_window:,} outside --from/--to"
        )
        if self.stopped:
            line += f"\nstopped after line {self.last_line:,}; continue with --resume-from {self.last_line + 1}"
        return line


class Progress:
    """One self-rewriting line on a terminal: percent, count, rate, ETA."""

    def __init__(self, total: int, out: TextIO = sys.stderr, every_s: float = 0.5) -> None:
        self.total, self.out, self.every_s = total, out, every_s
        self.started = self.shown = time.monotonic()

    def update(self, done: int, sent: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown < self.every_s:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-9)
        share = done / self.total if self.total else 1.0
        eta = (elapsed / share - elapsed) if share > 0 else 0.0
        bar = "#" * int(share * 30)
        counts = f"{done:,}/{self.total:,} lines  {sent / elapsed:,.0f} events/s  ETA {eta:,.0f} s "
        self.out.write(f"\r[{bar:<30}] {share:6.1%} {counts}")
        if final:
            self.out.write("\n")
        self.out.flush()


async def replay(
    log: Path, settings: Settings, options: ReplayOptions, progress: Progress | None = None
) -> ReplayResult:
    """Send the log; stop early, cleanly, on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    outbox = Outbox(lambda: producer_for(settings))
    result = ReplayResult(last_line=options.resume_from - 1)
    started = time.monotonic()
    try:
        await _send_all(log, settings, options, outbox, result, stop, progress)
    finally:
        await outbox.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        result.seconds = time.monotonic() - started
        if progress is not None:
            progress.update(result.last_line, result.sent, final=True)
    return result


async def _send_all(
    log: Path,
    settings: Settings,
    options: ReplayOptions,
    outbox: Outbox,
    result: ReplayResult,
    stop: asyncio.Event,
    progress: Progress | None,
) -> None:
    pending = 0  # records added to the outbox since the last acknowledgement
    pending_last = result.last_line
    first_ts: int | None = None
    clock = time.monotonic()
    for number, raw in iter_lines(log):
        if number < options.resume_from:
            continue
        if stop.is_set():
            result.stopped = True
            break
        topic, key, value, ts = _route(raw, number, log, settings, result)
        if ts is not None and not _in_window(ts, options):
            result.outside_window += 1
            pending_last = number
            continue
        if options.speed and ts is not None:
            first_ts = ts if first_ts is None else first_ts
            ahead = (ts - first_ts) / 1000 / options.speed - (time.monotonic() - clock)
            if ahead > 0:
                await _acknowledge(outbox, pending, result, pending_last)
                pending = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=ahead)
                if stop.is_set():
                    result.stopped = True
                    break
        outbox.add(topic, key, value)
        pending += 1
        result.by_topic[topic] = result.by_topic.get(topic, 0) + 1
        pending_last = number
        if pending >= IN_FLIGHT:
            await _acknowledge(outbox, pending, result, pending_last)
            pending = 0
        if progress is not None:
            progress.update(result.last_line, result.sent)
    await _acknowledge(outbox, pending, result, pending_last)


def _in_window(ts: int, options: ReplayOptions) -> bool:
    return (options.start_ts is None or ts >= options.start_ts) and (options.end_ts is None or ts < options.end_ts)


async def _acknowledge(outbox: Outbox, pending: int, result: ReplayResult, last_line: int) -> None:
    """Send what the outbox holds and wait for the broker to take it; only then is ``last_line`` done."""
    if pending:
        await asyncio.gather(*await outbox.publish())
        result.sent += pending
    result.last_line = max(result.last_line, last_line)


def _route(
    raw: bytes, number: int, log: Path, settings: Settings, result: ReplayResult
) -> tuple[str, bytes | None, bytes, int | None]:
    """(topic, key, value, event time) for one line: its input topic, or the dead-letter topic."""
    try:
        event = decode_event(raw)
    except InvalidEvent as exc:
        result.dead_letters += 1
        record = dead_letter(exc.reason, exc.message, raw, f"replay:{log.name}", None, number, now_ms())
        return settings.topic("events-dlq"), None, dumps(record), None
    payload = orjson.loads(raw)
    payload.pop("type", None)
    return settings.topic(TOPIC_FOR_TYPE[event.type]), event.customer_id.encode(), dumps(payload), event.ts
