"""Event-time merge of the co-partitioned input topic partitions.

The models are shared by all customers, so the order in which events reach them is
part of the result. Consuming ``orders``, ``clicks`` and ``reviews`` independently
would make that order depend on fetch timing. Like Kafka Streams' task time
synchronisation, each source partition keeps a FIFO queue and the merge always
releases the queue head with the smallest event time; it waits while a partition
with no queued event still has unread records on the broker (known from its high
watermark). A stalled producer never holds the merge up: its partitions have nothing
unread and count as settled. A partition whose high watermark is still unknown is
waited for ``max_idle_ms``; one known to hold unread records is waited for longer,
``max_lag_wait_ms``, because its records exist and releasing without them would change
the order (on a busy worker the consumer can take seconds to reach a partition). A
buffer over ``max_buffered`` forces a release at once, so memory stays bounded.

``pulse backtest`` runs the same merge over the log's events, so a replay into the
worker and a backtest of the same log reach the engine in the same order.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclass(slots=True)
class _Entry(Generic[T]):
    ts: int
    offset: int
    item: T


@dataclass
class MergeStats:
    released: int = 0
    forced_idle: int = 0
    forced_full: int = 0


@dataclass
class EventTimeMerge(Generic[T]):
    """Per-partition FIFO queues released in event-time order.

    ``rank`` orders the topics for events with equal time (orders before clicks
    before reviews, so an order is counted before the session click that shares its
    millisecond); ties beyond that go to the lower partition number.
    """

    rank: dict[str, int]
    max_idle_ms: int = 2_000
    max_lag_wait_ms: int = 60_000
    max_buffered: int = 50_000
    queues: dict[TopicPartition, deque[_Entry[T]]] = field(default_factory=dict)
    next_offset: dict[TopicPartition, int] = field(default_factory=dict)
    waiting_since: dict[TopicPartition, float] = field(default_factory=dict)
    buffered: int = 0
    stats: MergeStats = field(default_factory=MergeStats)

    def assign(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            self.queues.setdefault(tp, deque())

    def revoke(self, tps: Iterable[TopicPartition]) -> list[T]:
        """Forget revoked partitions; return their held items (to be released unprocessed)."""
        dropped: list[T] = []
        for tp in tps:
            queue = self.queues.pop(tp, None)
            if queue:
                dropped.extend(entry.item for entry in queue)
                self.buffered -= len(queue)
            self.next_offset.pop(tp, None)
            self.waiting_since.pop(tp, None)
        return dropped

    def seen(self, tp: TopicPartition, offset: int) -> None:
        """Record that ``offset`` was received on ``tp`` (valid or not)."""
        self.queues.setdefault(tp, deque())
        if offset + 1 > self.next_offset.get(tp, 0):
            self.next_offset[tp] = offset + 1

    def start_at(self, tp: TopicPartition, position: int) -> None:
        """Tell the merge where consumption of ``tp`` starts, before anything is received."""
        self.queues.setdefault(tp, deque())
        self.next_offset.setdefault(tp, position)

    def add(self, tp: TopicPartition, offset: int, ts: int, item: T) -> None:
        self.seen(tp, offset)
        self.queues[tp].append(_Entry(ts, offset, item))
        self.buffered += 1

    def release(self, highwater: Callable[[TopicPartition], int | None], now: float) -> list[T]:
        """Pop every item that can go to the engine now, in merge order.

        ``highwater(tp)`` is the broker's next offset for ``tp`` as last seen by the
        consumer (``None`` when unknown); ``now`` is a monotonic clock in seconds. Within
        one call the partitions' heads are kept in a heap, and the partitions that hold
        the release back change only when a queue runs empty, so each event costs a heap
        step, not a scan of every partition.
        """
        if not self.buffered:
            return []
        limits = ((tp, self._wait_limit(tp, highwater)) for tp, queue in self.queues.items() if not queue)
        unsettled = {tp: limit for tp, limit in limits if limit is not None}
        for tp in list(self.waiting_since):
            if tp not in unsettled:
                del self.waiting_since[tp]
        heads = [
            (queue[0].ts, self.rank.get(tp.topic, 99), tp.partition, index, tp)
            for index, (tp, queue) in enumerate(self.queues.items())
            if queue
        ]
        heapq.heapify(heads)
        out: list[T] = []
        while heads and self._may_release(unsettled, now):
            _ts, rank, partition, index, tp = heads[0]
            queue = self.queues[tp]
            out.append(queue.popleft().item)
            self.buffered -= 1
            if queue:
                heapq.heapreplace(heads, (queue[0].ts, rank, partition, index, tp))
                continue
            heapq.heappop(heads)
            limit = self._wait_limit(tp, highwater)
            if limit is not None:
                unsettled[tp] = limit
        self.stats.released += len(out)
        return out

    def _wait_limit(self, tp: TopicPartition, highwater: Callable[[TopicPartition], int | None]) -> int | None:
        """How long an empty partition may hold the merge back, in ms; ``None`` once settled."""
        mark = highwater(tp)
        if self._settled(tp, mark):
            return None
        return self.max_idle_ms if mark is None else self.max_lag_wait_ms

    def _may_release(self, unsettled: dict[TopicPartition, int], now: float) -> bool:
        if not unsettled:
            return True
        if self.buffered > self.max_buffered:
            self.stats.forced_full += 1
            return True
        if any((now - self.waiting_since.setdefault(tp, now)) * 1000 >= limit for tp, limit in unsettled.items()):
            self.stats.forced_idle += 1
            return True
        return False

    def _settled(self, tp: TopicPartition, highwater: int | None) -> bool:
        """An empty partition is settled when everything on the broker has been received."""
        if highwater is None:
            return False
        start = self.next_offset.get(tp)
        return highwater == 0 if start is None else highwater <= start
