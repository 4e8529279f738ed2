"""The worker's processing loop: Faust events in, engine calls, table writes, records out.

Per batch of consumed events:

1. decode and validate each event; invalid ones go to the dead-letter topic, events
   keyed by something other than their customer id go to the re-key topic;
2. hold the valid ones in the event-time merge (their offsets stay uncommitted);
3. feed released events to the engine, send its records, write each changed customer
   once, then ack once those records are delivered, so Faust commits an offset only
   after its effects are produced;
4. apply erasure requests of the batch, after the events released before them.

A batch's deliveries are awaited while the next batch is processed: the broker's round
trip overlaps the engine's work instead of adding to it. At most one batch is unsettled;
the next one waits for it before handing its own records to the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

from aiokafka.errors import IllegalStateError, KafkaError
from faust.types import TP, AppT, EventT

from models.engine import Engine, Output
from models.errors import InvalidEvent
from models.events import Event, decode_erasure, decode_event, event_to_dict
from models.jsonio import dumps
from models.records import dead_letter
from models.state import Source
from models.timeutil import now_ms
from stream.checkpointer import Checkpointer
from stream.commits import UNTRACKED
from stream.consumer import DirectConsumer
from stream.merge import EventTimeMerge, TopicPartition
from stream.metrics import PulseMetrics
from stream.outbox import Outbox
from stream.sequence import PartitionSequence
from stream.status import LatestAlerts
from stream.tablestore import TableStore

log = logging.getLogger(__name__)

TOPIC_RANK = {"order": 0, "click": 1, "review": 2}


@dataclass
class PipelineStats:
    """Counters for the status line and metrics."""

    consumed: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    rekeyed: int = 0
    scores: int = 0
    batches: int = 0
    checkpoint_at: float | None = None
    started_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class OutputTopics:
    """Names of the topics the worker writes to."""

    scores: str
    alerts: str
    dlq: str
    rekey: str


def _log_failed_delivery(settling: asyncio.Future[None]) -> None:
    """Say at once that a batch's records were not delivered; the next batch raises it."""
    if not settling.cancelled() and settling.exception() is not None:
        log.error("a batch's records were not delivered; its events stay unacked: %r", settling.exception())


class Pipeline:
    """Owns the engine of one worker and drives it from the input topics."""

    def __init__(
        self,
        app: AppT,
        engine: Engine,
        store: TableStore,
        outputs: OutputTopics,
        outbox: Outbox,
        input_types: dict[str, str | None],
        max_idle_ms: int,
        metrics: PulseMetrics,
        latest_alerts: LatestAlerts,
        erasure_topic: str,
        checkpointer: Checkpointer,
    ) -> None:
        self.app = app
        self.erasure_topic = erasure_topic
        self.checkpointer = checkpointer
        self._erasures: list[tuple[EventT, str]] = []
        self._frontier: dict[TopicPartition, int] = {}
        self.sequence = PartitionSequence()
        self.outbox = outbox
        #: Events per (topic, outcome) since the last settle, added to the metric once a batch.
        self._outcomes: Counter[tuple[str, str]] = Counter()
        self.metrics = metrics
        self.latest_alerts = latest_alerts
        self.engine = engine
        self.store = store
        self.outputs = outputs
        self.input_types = input_types
        rank = {topic: TOPIC_RANK.get(kind or "", 3) for topic, kind in input_types.items()}
        self.merge: EventTimeMerge[tuple[EventT, Event]] = EventTimeMerge(rank=rank, max_idle_ms=max_idle_ms)
        self.stats = PipelineStats()
        self._lock = asyncio.Lock()
        #: The last batch's deliveries, then its acks and commit frontier.
        self._settling: asyncio.Future[None] | None = None
        self._lag_labels: set[TopicPartition] = set()
        #: Input partitions assigned to this worker now.
        self._owned: set[TopicPartition] = set()

    # -- checkpoints --------------------------------------------------------------

    async def checkpoint(self) -> None:
        """Save the models as they stand between batches; the writing overlaps the next batches."""
        async with self._lock:
            written = await self._start_checkpoint()
        await self._settle_checkpoint(written)

    async def _start_checkpoint(self) -> asyncio.Future[bool]:
        events = sum(self.engine.stats.events.values())
        return await self.checkpointer.start(self.engine.suite, events, now_ms())

    async def _settle_checkpoint(self, written: asyncio.Future[bool]) -> None:
        if await asyncio.shield(written):  # a cancelled wait leaves the write running
            self.stats.checkpoint_at = time.monotonic()

    def refresh_gauges(self) -> None:
        """Model quality and memory, on a timer: they cost more than a per-event update."""
        self.metrics.set_quality(self.engine.suite.quality())
        for buffer, entries in {"decoded_states": self.store.cached, **self.engine.suite.buffers()}.items():
            self.metrics.buffers.labels(buffer=buffer).set(entries)
        for part, size in self.store.rocksdb_memory().items():
            self.metrics.store_memory.labels(part=part).set(size)
        for (rule, outcome), count in self.engine.alerting.stats.items():
            if outcome == "cooldown":
                self.metrics.alerts_held.labels(rule=rule).set(count)
        self._refresh_lag()

    def refresh_customers(self) -> None:
        """The customer count: a scan of every owned partition, about 90 ms per 100,000 customers."""
        self.metrics.customers.set(len(self.store))

    def _refresh_lag(self) -> None:
        """Broker high watermark minus the next offset to receive, per owned input partition."""
        shown: set[TopicPartition] = set()
        for tp in list(self.merge.queues):
            highwater, position = self._highwater(tp), self.merge.next_offset.get(tp)
            if highwater is not None and position is not None:
                self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(highwater - position)
                shown.add(tp)
        for tp in self._lag_labels - shown:  # revoked: its new owner reports it
            self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        self._lag_labels = shown

    # -- partition lifecycle ------------------------------------------------------

    def on_assigned(self, assigned: set[TP]) -> None:
        self.store.drop_cache()
        self._owned = {TopicPartition(tp.topic, tp.partition) for tp in assigned if tp.topic in self.input_types}
        self.merge.assign(self._owned)

    def on_revoked(self, revoked: set[TP]) -> None:
        """Forget held events of revoked partitions: their new owner reads them again."""
        tps = [TopicPartition(tp.topic, tp.partition) for tp in revoked]
        self._owned.difference_update(tps)
        dropped = self.merge.revoke(tps)
        self.sequence.revoke(tps)
        if dropped:
            log.info("rebalance: %d held events of revoked partitions left to their new owner", len(dropped))

    # -- processing ---------------------------------------------------------------

    async def on_batch(self, events: list[EventT]) -> None:
        """Handle one batch from ``stream.take_events``."""
        async with self._lock:
            self.stats.batches += 1
            partitions = {(event.message.topic, event.message.partition) for event in events}
            inputs = [tp for tp in map(TopicPartition._make, partitions) if tp in self._owned]
            await self.sequence.start(self.app.consumer, inputs)
            for event in events:
                await self._receive(event)
            released = await self._drain()
            erased = await self._erase() if self._erasures else []
            await self._settle([*released, *erased])

    async def tick(self) -> None:
        """Called by a timer: read stalled partitions again, repeat seeks, learn where quiet
        partitions start, release events that were waiting on an idle partition."""
        if self._lock.locked():
            return
        stalled = self.sequence.stalled(self._position, self._highwater, time.monotonic())
        if stalled:
            async with self._lock:
                await self.sequence.rewind_stalled(self.app.consumer, stalled)
        if self.sequence.sought:
            async with self._lock:
                await self.sequence.retry(self.app.consumer, time.monotonic())
        if not self.merge.next_offset.keys() >= self.merge.queues.keys():
            async with self._lock:  # partitions with nothing to deliver still report their lag
                await self._learn_start_positions()
        if self.merge.buffered:
            async with self._lock:
                await self._settle(await self._drain())

    def commit_frontier(self, tp: TP) -> int | None:
        """Where a commit of ``tp`` may go: every offset below is processed and flushed.

        ``None`` while nothing is settled; ``UNTRACKED`` for topics outside the merge. A
        revoked partition keeps its frontier: everything below it stays processed.
        """
        if tp.topic not in self.input_types:
            return UNTRACKED
        return self._frontier.get(TopicPartition(tp.topic, tp.partition))

    async def _settle(self, handled: list[EventT]) -> None:
        """Publish every record produced so far; ack ``handled`` and move the commit frontier
        once the broker has them all.

        Faust commits acked offsets, and a commit ahead of its effects loses them in a
        crash. Waiting on each record's delivery is exact where Faust's flush is not
        (its buffer of table writes gives up after 0.1 s without progress). The batch
        before is settled first, so acks and frontiers move in batch order and a failed
        delivery surfaces here, one batch later.
        """
        await self.settled()
        pending = await self.outbox.publish()
        for (topic, outcome), count in self._outcomes.items():
            self.metrics.events.labels(topic=topic, outcome=outcome).inc(count)
        self._outcomes.clear()
        self._settling = asyncio.ensure_future(self._ack_when_delivered(pending, handled, self._frontier_now()))
        self._settling.add_done_callback(_log_failed_delivery)

    async def settled(self) -> None:
        """Wait until the last batch's records are delivered and its events acked.

        Raises the delivery's error if it failed, once: the batch after starts afresh, as a
        restarted agent must. A cancelled wait leaves the delivery running.
        """
        settling = self._settling
        if settling is None:
            return
        try:
            await asyncio.shield(settling)
        finally:
            if settling.done() and self._settling is settling:
                self._settling = None

    async def finish_deliveries(self) -> None:
        """Before a rebalance or a shutdown: let the last batch's deliveries finish.

        A failed one leaves its events unacked and uncommitted, to be read again.
        """
        with contextlib.suppress(KafkaError):  # logged when it failed
            await self.settled()

    async def _ack_when_delivered(
        self, pending: list[Awaitable[Any]], handled: list[EventT], frontier: dict[TopicPartition, int]
    ) -> None:
        if pending:
            self.store.persisted(await asyncio.gather(*pending))
        for faust_event in handled:
            faust_event.ack()
        self._frontier.update(frontier)

    def _frontier_now(self) -> dict[TopicPartition, int]:
        """Per input partition, the first offset not yet processed, as of the records just published."""
        frontier = {}
        for tp, queue in self.merge.queues.items():
            # Not the merge's next offset: that may be a consumer position learned before
            # anything arrived, beyond records fetched but not yet delivered.
            offset = queue[0].offset if queue else self.sequence.received.get(tp)
            if offset is not None:
                frontier[tp] = offset
        return frontier

    async def _receive(self, faust_event: EventT) -> None:
        message = faust_event.message
        tp = TopicPartition(message.topic, message.partition)
        self.stats.consumed[message.topic] += 1
        raw = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
        if message.topic == self.erasure_topic:
            await self._receive_erasure(faust_event, raw)
            return
        if tp not in self._owned:
            return  # fetched before a rebalance took its partition away: the new owner reads it
        if not await self.sequence.accept(self.app.consumer, tp, message.offset):
            return
        try:
            event = decode_event(raw, self.input_types.get(message.topic))
        except InvalidEvent as exc:
            self._outcomes[message.topic, "dead_letter"] += 1
            self.metrics.dead_letters.labels(reason=exc.reason).inc()
            self.merge.seen(tp, message.offset)
            self._dead_letter(exc, raw, message.topic, message.partition, message.offset, message.key)
            return
        if message.key != event.customer_id.encode():
            self._outcomes[message.topic, "rekeyed"] += 1
            self.merge.seen(tp, message.offset)
            self._rekey(event)
            return
        message.incref()  # held past take_events' ack until the merge releases it
        self.merge.add(tp, message.offset, event.ts, (faust_event, event))

    async def _receive_erasure(self, faust_event: EventT, raw: bytes) -> None:
        message = faust_event.message
        try:
            customer_id = decode_erasure(raw, message.key)
        except InvalidEvent as exc:
            self._outcomes[message.topic, "dead_letter"] += 1
            self.metrics.dead_letters.labels(reason=exc.reason).inc()
            self._dead_letter(exc, raw, message.topic, message.partition, message.offset, message.key)
            return
        message.incref()  # acked once the erasure is done
        self._erasures.append((faust_event, customer_id))

    async def _erase(self) -> list[EventT]:
        """Apply the batch's erasure requests, publish tombstones, then save the models at once.

        The models' checkpoint on disk is rewritten before the requests are acked, so a
        copy of the customer's per-customer model data outlives the request by no more
        than one checkpoint write.
        """
        erasures, self._erasures = self._erasures, []
        for faust_event, customer_id in erasures:
            self.store.source = faust_event  # the state's changelog partition is the request's
            published_key = self.engine.forget(customer_id)
            self.outbox.add(self.outputs.scores, published_key.encode(), None)
            self._outcomes[faust_event.message.topic, "erased"] += 1
        await self._settle_checkpoint(await self._start_checkpoint())
        log.info("erased %d customer(s) on request", len(erasures))
        return [faust_event for faust_event, _ in erasures]

    def _dead_letter(self, exc: InvalidEvent, raw: bytes, topic: str, partition: int, offset: int, key: Any) -> None:
        self.stats.dead_letters[exc.reason] += 1
        record = dead_letter(exc.reason, exc.message, raw, topic, partition, offset, now_ms())
        key = key if isinstance(key, bytes) else None
        pseudonymiser = self.engine.pseudonymiser
        if pseudonymiser is not None:
            record = pseudonymiser.dead_letter(record)
            key = pseudonymiser.pseudonym(key.decode(errors="replace")).encode() if key is not None else None
        self.outbox.add(self.outputs.dlq, key, dumps(record))

    def _rekey(self, event: Event) -> None:
        self.stats.rekeyed += 1
        self.outbox.add(self.outputs.rekey, event.customer_id.encode(), dumps(event_to_dict(event)))

    async def _drain(self) -> list[EventT]:
        """Process what the merge releases; return those events (acked once flushed)."""
        await self._learn_start_positions()
        forced = (self.merge.stats.forced_idle, self.merge.stats.forced_full)
        released = self.merge.release(self._highwater, time.monotonic())
        self._count_forced(*forced)
        if not released:
            return []
        started = time.perf_counter()
        event_lag = self.metrics.event_lag
        for faust_event, event in released:
            message = faust_event.message
            duplicates = self.engine.stats.duplicates
            self.store.source = faust_event
            outputs = self.engine.process(event, Source(message.topic, message.partition, message.offset))
            outcome = "duplicate" if self.engine.stats.duplicates > duplicates else "scored"
            self._outcomes[message.topic, outcome] += 1
            event_lag.observe(max(0.0, (now_ms() - event.ts) / 1000))
            self._send(outputs)
        self.store.flush()
        self.metrics.processing.observe(time.perf_counter() - started)
        return [faust_event for faust_event, _ in released]

    def _count_forced(self, idle_before: int, full_before: int) -> None:
        idle, full = self.merge.stats.forced_idle - idle_before, self.merge.stats.forced_full - full_before
        if idle:
            self.metrics.merge_forced.labels(cause="idle").inc(idle)
            log.warning("merge: released without a partition that delivered nothing in time")
        if full:
            self.metrics.merge_forced.labels(cause="buffer_full").inc(full)
            log.warning("merge: %d events held, released without waiting for every partition", self.merge.buffered)

    def _send(self, outputs: list[Output]) -> None:
        for output in outputs:
            topic = self.outputs.scores if output.kind == "score" else self.outputs.alerts
            self.outbox.add(topic, output.key.encode(), dumps(output.value))
            self.stats.scores += output.kind == "score"
            if output.kind == "alert":
                self.metrics.alerts.labels(rule=output.value["rule"]).inc()
                self.latest_alerts.add(output.value)

    async def _learn_start_positions(self) -> None:
        """Tell the merge where each partition that has delivered nothing starts reading.

        That is the group's committed offset, else the partition's first record; not the
        consumer's position, which is already past records fetched into Faust's buffers
        but not yet delivered: a partition counted as settled at that position would let
        the merge release events ahead of them, in an order a backtest would not have.
        """
        quiet = [tp for tp in self.merge.queues if tp not in self.merge.next_offset]
        if quiet:
            await self.sequence.start(self.app.consumer, quiet)
            for tp in quiet:
                self.merge.start_at(tp, self.sequence.received[tp])

    def _position(self, tp: TopicPartition) -> int | None:
        return cast(DirectConsumer, self.app.consumer).client_position(TP(tp.topic, tp.partition))

    def _highwater(self, tp: TopicPartition) -> int | None:
        try:
            return self.app.consumer.highwater(TP(tp.topic, tp.partition))
        except (AssertionError, KeyError, IllegalStateError):
            return None
