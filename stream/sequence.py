"""Every input offset exactly in order: holes Faust leaves in a partition are fetched again.

When a rebalance suspends the flow, Faust abandons the messages it has fetched but not
yet handed to the stream and moves its read offset past them anyway; if the partition
stays with this worker, those records are never delivered. The pipeline would then
process the records after the hole, commit past it, and the records in it would be
lost for good. Instead, a hole makes the consumer seek back to its first offset, and
messages are ignored until that offset arrives again.

One seek is not always enough: messages fetched before it are still being handed over,
and Faust moves its read offset past each of them, so it then drops the re-fetched
records as already read. While a rewind waits, ``retry`` seeks again every
``retry_s``; once the old messages are through, a seek takes.

Some offsets hold no record (a transaction's commit marker, a compacted record). A re-read
then starts past the offset it waits for, with an offset no higher than one seen before:
that is how a re-read is told from messages fetched before the seek. After ``give_up_s``
the partition goes on from the first record of such a re-read, so nothing that exists is
passed over.

A hole shows only when a later record arrives. At the end of a partition (a feed that
has stopped, a quiet hour) none comes. Faust also drops records the client has already
handed it when a fetch straddles a rebalance or a pause, so ``stalled`` looks for
partitions where the client is past the offset expected here, the broker holds it, and
nothing has arrived for ``stall_s``; they are read again the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP

from stream.merge import TopicPartition

log = logging.getLogger(__name__)


@dataclass
class PartitionSequence:
    """Per input partition: one past the last offset accepted, and rewinds under way."""

    received: dict[TopicPartition, int] = field(default_factory=dict)
    #: Partition -> monotonic time its rewind started.
    rewinding: dict[TopicPartition, float] = field(default_factory=dict)
    #: Partition -> monotonic time of its latest seek.
    sought: dict[TopicPartition, float] = field(default_factory=dict)
    #: Partition -> the highest offset seen since its rewind started.
    furthest: dict[TopicPartition, int] = field(default_factory=dict)
    #: Partition -> (offset it waits for, monotonic time the client was first seen past it).
    overdue: dict[TopicPartition, tuple[int, float]] = field(default_factory=dict)
    rewinds: int = 0
    retry_s: float = 2.0
    #: How long a rewind may wait for its first offset before the partition goes on from the
    #: first record a re-read brings.
    give_up_s: float = 15.0
    #: How long the client may be past an offset that never arrived before it is read again.
    stall_s: float = 10.0

    async def start(self, consumer: Any, tps: Iterable[TopicPartition]) -> None:
        """Learn where the first delivery of each partition new to us must be, in one lookup.

        One lookup per partition would each wait behind the consumer's long-poll fetch on
        the same broker connection (1.5 s apiece), which made a worker's first scores wait
        for tens of seconds.
        """
        new = [tp for tp in set(tps) if tp not in self.received]
        if new:
            self.received.update(await _starts(consumer, new))

    async def accept(self, consumer: Any, tp: TopicPartition, offset: int) -> bool:
        """Whether the message at ``offset`` is the next one of ``tp``; rewind over a hole."""
        expected = self.received.get(tp)
        if expected is None:
            await self.start(consumer, [tp])
            expected = self.received[tp]
        if offset == expected:
            started = self.rewinding.get(tp)
            if started is not None:
                waited = time.monotonic() - started
                log.info("%s[%d]: offset %d read again after %.1f s", tp.topic, tp.partition, offset, waited)
            self._end_rewind(tp)
            self.received[tp] = offset + 1
            return True
        if offset < expected:
            return False  # already accepted once
        started = self.rewinding.get(tp)
        if started is not None:
            rereading = offset <= self.furthest[tp]
            self.furthest[tp] = max(self.furthest[tp], offset)
            if not rereading or time.monotonic() - started < self.give_up_s:
                return False  # fetched before the rewind took effect, or still waiting
            log.error(
                "%s[%d]: offsets %d..%d could not be read again; going on from %d, where a re-read starts",
                tp.topic,
                tp.partition,
                expected,
                offset - 1,
                offset,
            )
            self._end_rewind(tp)
            self.received[tp] = offset + 1
            return True
        log.warning(
            "%s[%d]: offsets %d..%d were skipped by the consumer; reading them again",
            tp.topic,
            tp.partition,
            expected,
            offset - 1,
        )
        await self._rewind(consumer, tp, offset)
        return False

    def stalled(
        self,
        position: Callable[[TopicPartition], int | None],
        highwater: Callable[[TopicPartition], int | None],
        now: float,
    ) -> list[TopicPartition]:
        """Partitions the client has read past the offset expected here, with nothing arriving for ``stall_s``.

        ``position(tp)`` is the client's next offset to hand out, ``highwater(tp)`` the
        broker's; a partition counts only while the broker holds the offset it waits
        for, so a gap at the end of a partition is never chased.
        """
        out: list[TopicPartition] = []
        for tp, expected in self.received.items():
            at, mark = position(tp), highwater(tp)
            if tp in self.rewinding or at is None or at <= expected or mark is None or mark <= expected:
                self.overdue.pop(tp, None)
                continue
            since = self.overdue.get(tp)
            if since is None or since[0] != expected:
                self.overdue[tp] = (expected, now)
            elif now - since[1] >= self.stall_s:
                out.append(tp)
        return out

    async def rewind_stalled(self, consumer: Any, tps: list[TopicPartition]) -> None:
        """Read ``tps`` again from the offset each waits for."""
        for tp in tps:
            log.warning(
                "%s[%d]: offset %d was read by the consumer but never arrived; reading it again",
                tp.topic,
                tp.partition,
                self.received[tp],
            )
            self.overdue.pop(tp, None)
            await self._rewind(consumer, tp, self.received[tp])

    async def _rewind(self, consumer: Any, tp: TopicPartition, furthest: int) -> None:
        self.rewinding[tp] = self.sought[tp] = time.monotonic()
        self.furthest[tp] = furthest
        self.rewinds += 1
        await self._seek(consumer, tp)

    async def _seek(self, consumer: Any, tp: TopicPartition) -> None:
        """Seek ``tp`` to the offset it waits for; a partition just taken away is forgotten instead."""
        try:
            await _seek(consumer, TP(tp.topic, tp.partition), self.received[tp])
        except IllegalStateError:
            log.info("%s[%d]: no longer assigned; its new owner reads it", tp.topic, tp.partition)
            self.revoke([tp])

    def _end_rewind(self, tp: TopicPartition) -> None:
        self.rewinding.pop(tp, None)
        self.sought.pop(tp, None)
        self.furthest.pop(tp, None)

    async def retry(self, consumer: Any, now: float) -> None:
        """Seek again where a rewind has waited ``retry_s`` since its last seek."""
        for tp, last in list(self.sought.items()):
            if now - last >= self.retry_s:
                self.sought[tp] = now
                await self._seek(consumer, tp)

    def revoke(self, tps: list[TopicPartition]) -> None:
        """A revoked partition starts afresh at its committed offset when it comes back."""
        for tp in tps:
            self.received.pop(tp, None)
            self.overdue.pop(tp, None)
            self._end_rewind(tp)


async def _starts(consumer: Any, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Per partition: the group's committed offset, else the partition's first record."""
    starts: dict[TopicPartition, int] = {}
    missing: list[TP] = []
    thread = consumer._thread
    for tp in tps:
        faust_tp = TP(tp.topic, tp.partition)
        committed = consumer._committed_offset.get(faust_tp)  # Faust's copy: None for 0, or not loaded yet
        if not committed:
            committed = await thread.call_thread(thread._ensure_consumer().committed, faust_tp)
        if committed is not None:
            starts[tp] = int(committed)
        else:
            missing.append(faust_tp)
    if missing:
        earliest = await consumer.earliest_offsets(*missing)
        starts.update({TopicPartition(tp.topic, tp.partition): int(earliest.get(tp) or 0) for tp in missing})
    return starts


async def _seek(consumer: Any, tp: TP, offset: int) -> None:
    """Seek on the consumer's own thread (aiokafka is not thread-safe) and let Faust read from there."""
    thread = consumer._thread
    await thread.call_thread(thread.seek, tp, offset)
    consumer._read_offset[tp] = offset or None
