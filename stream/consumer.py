"""Faust's aiokafka transport: a cheaper hand-off of each record, and a shorter fetch wait.

Faust builds its worker's aiokafka consumer with ``fetch_max_wait_ms=1500``, fixed. A
broker may hold a fetch until that wait is over even when records have arrived (the
embedded one does): with a bare aiokafka consumer and one record every 20 ms, records
waited p50 386 ms for their fetch with 1,500 ms, 28 ms with 100 ms. The wait here comes
from ``PULSE_FETCH_MAX_WAIT_MS``; a shorter one costs a little throughput in a backlog
(more fetch round trips for the partitions that are empty, such as erasure requests).

Faust's fetch loop (``Consumer._drain_messages``) races the hand-off of every record
against a suspension of the flow with ``Service.wait_first``: four new tasks and an
``asyncio.wait`` per record, about 7% of a busy worker's main thread. Here the hand-off
is awaited directly. It can only block while the flow is suspended (a rebalance): the
record it then hands over carries the old generation id, which Faust's stream skips
(``stream/commits.py`` keeps its ack from moving a commit), and the fetch loop drops the
rest of the fetch when the generation changes. Stopping the fetcher cancels the wait, as
before. The rest of the loop is Faust's own, as in faust-streaming 0.15 (pinned): read offsets,
gap tracking, commits every ``broker_commit_every`` acks, a yield to the event loop
every 100 records.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from faust import Schema
from faust.exceptions import ConsumerNotStarted
from faust.serializers.schemas import DecodeFunction
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP, AppT, Message
from mode import Service

YIELD_EVERY = 100


class ShortWaitConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread; its aiokafka consumer takes the transport's fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms  # read when the consumer starts
        return consumer


class DirectConsumer(aiokafka.Consumer):
    """Faust's aiokafka consumer; records reach the streams without a race per record."""

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ShortWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def client_position(self, tp: TP) -> int | None:
        """The next offset of ``tp`` the aiokafka client will hand to Faust; ``None`` when unknown.

        Read without a call to the consumer thread: the position is an int that thread
        replaces, so a read is at worst one fetch behind.
        """
        try:
            client = self._thread._ensure_consumer()
            state = client._subscription.subscription.assignment.state_value(tp)
        except (AttributeError, ConsumerNotStarted):
            return None
        return state.position if state is not None and state.has_valid_position else None

    async def _drain_messages(self, fetcher: Any) -> None:
        callback = self.callback
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        read_offset = self._read_offset
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany may return at once, again and again
                if not self.should_stop:
                    async for tp, message in records:
                        since_yield += 1
                        if since_yield > YIELD_EVERY:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset, last = message.offset, read_offset[tp]
                        if last is not None and offset < last:
                            continue  # delivered before: Faust drops it the same way
                        if last and offset - last > 1 and acks_enabled_for(message.topic):
                            await self._add_gap(tp, last + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await callback(message)
                        read_offset[tp] = offset
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class DirectTransport(aiokafka.Transport):
    """The aiokafka transport whose consumer is ``DirectConsumer``."""

    Consumer = DirectConsumer

    def __init__(self, url: Any, app: AppT, fetch_max_wait_ms: int) -> None:
        super().__init__(url, app)
        self.fetch_max_wait_ms = fetch_max_wait_ms


def use_direct_consumer(app: AppT, fetch_max_wait_ms: int) -> None:
    """Give ``app`` the direct-delivery consumer and its fetch wait; call before the worker starts."""
    app.transport = DirectTransport(app.conf.broker_consumer, app, fetch_max_wait_ms)


class RawRecords(Schema):
    """The records' key and value as the broker's bytes, without Faust's codecs.

    The pipeline validates every payload itself and reads ``message.key`` and
    ``message.value``; the raw codec would give the same bytes after a serializer lookup
    per key and per value, about 2% of a busy worker's main thread.
    """

    def compile(self, app: AppT, **_: Any) -> DecodeFunction:
        create_event = app.create_event

        async def decode(message: Message, *, propagate: bool = False) -> Any:
            return create_event(message.key, message.value, message.headers, message)

        return decode
