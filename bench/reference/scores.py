"""Reading score records off a topic in a background thread while a benchmark runs.

Each record is kept as ``(event_id, event ts ms, emitted_at ms, received ms)``: the
reader's wall clock at receipt gives the end-to-end latency, ``emitted_at`` (stamped by
the engine when it scored the event) the processing latency.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

import orjson
from aiokafka import AIOKafkaConsumer

from models.timeutil import now_ms, parse_ts


class Score(NamedTuple):
    event_id: str
    ts: int
    emitted_at: int
    received: int


class ScoreReader:
    """Reads ``topic`` from its beginning until stopped; ``scores`` grows as records arrive.

    With ``group``, ``counts[group(event_id)]`` counts the records of each group as they
    arrive (e.g. one group per offered rate).
    """

    def __init__(self, bootstrap: str, topic: str, group: Callable[[str], str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.scores: list[Score] = []
        self.counts: Counter[str] = Counter()
        #: Events with at least one score record: a rebalance scores some of them twice.
        self.scored: set[str] = set()
        #: Monotonic time of the last fetch that found every partition read to its end.
        self.caught_up_at = 0.0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"read {topic}", daemon=True)

    def start(self) -> ScoreReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    @property
    def count(self) -> int:
        return len(self.scores)

    @property
    def distinct(self) -> int:
        """Events scored, each counted once however many records it has."""
        return len(self.scored)

    def first_stamps(self) -> list[int]:
        """``emitted_at`` of each event's first score record, sorted."""
        first: dict[str, int] = {}
        for score in self.scores:
            if score.emitted_at < first.get(score.event_id, score.emitted_at + 1):
                first[score.event_id] = score.emitted_at
        return sorted(first.values())

    def wait_caught_up(self, since: float, timeout: float = 60.0) -> bool:
        """Wait until a fetch started after monotonic time ``since`` found nothing more to read."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.caught_up_at > since:
                return True
            time.sleep(0.1)
        return False

    def _run(self) -> None:
        try:
            asyncio.run(self._read())
        except BaseException as exc:  # reported by the benchmark, not lost in a thread
            self.error = exc

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                received = now_ms()
                for messages in batch.values():
                    for message in messages:
                        if message.value is None:
                            continue  # an erasure tombstone
                        record = orjson.loads(message.value)
                        event_id = record["event_id"]
                        self.scores.append(
                            Score(event_id, parse_ts(record["ts"]), parse_ts(record["emitted_at"]), received)
                        )
                        self.scored.add(event_id)
                        if self.group is not None:
                            self.counts[self.group(event_id)] += 1
                if not batch and await self._at_end(consumer):
                    self.caught_up_at = started
        finally:
            await consumer.stop()

    @staticmethod
    async def _at_end(consumer: AIOKafkaConsumer) -> bool:
        # The fetch responses' high watermark: the embedded broker under-reports the end
        # of a partition in ListOffsets, not in fetches.
        partitions = consumer.assignment()
        if not partitions:
            return False
        for tp in partitions:
            highwater = consumer.highwater(tp)
            if highwater is None or await consumer.position(tp) < highwater:
                return False
        return True
