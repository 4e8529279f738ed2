"""A batch is acked, and its commit frontier moves, only once the broker has its records;
the next batch is processed meanwhile, and settles only after the one before."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP, EventT
from prometheus_client import CollectorRegistry

from stream.merge import TopicPartition
from stream.metrics import PulseMetrics
from stream.pipeline import OutputTopics, Pipeline

INPUT = TopicPartition("orders", 3)


class Outbox:
    """Hands out one delivery future per publish, resolved by the test as the broker would."""

    def __init__(self) -> None:
        self.deliveries: list[asyncio.Future[Any]] = []

    async def publish(self) -> list[Awaitable[Any]]:
        delivery = asyncio.get_running_loop().create_future()
        self.deliveries.append(delivery)
        return [delivery]


class Store:
    def __init__(self) -> None:
        self.persisted_batches: list[list[Any]] = []

    def persisted(self, metadata: list[Any]) -> None:
        self.persisted_batches.append(metadata)


class Event:
    def __init__(self) -> None:
        self.acked = False

    def ack(self) -> None:
        self.acked = True


def pipeline(outbox: Outbox, store: Store) -> Pipeline:
    topics = OutputTopics(scores="scores", alerts="alerts", dlq="dlq", rekey="rekey")
    built = Pipeline(
        app=cast(Any, None),
        engine=cast(Any, None),
        store=cast(Any, store),
        outputs=topics,
        outbox=cast(Any, outbox),
        input_types={INPUT.topic: "order"},
        max_idle_ms=1000,
        metrics=PulseMetrics.create(CollectorRegistry()),
        latest_alerts=cast(Any, None),
        erasure_topic="erasures",
        checkpointer=cast(Any, None),
    )
    built.merge.assign([INPUT])
    return built


def run(test: Callable[[Pipeline, Outbox, Store], Coroutine[Any, Any, None]]) -> None:
    outbox, store = Outbox(), Store()
    asyncio.run(test(pipeline(outbox, store), outbox, store))


def events(*made: Event) -> list[EventT]:
    return cast(list[EventT], list(made))


def test_a_batch_is_acked_and_its_frontier_moves_only_once_its_records_are_delivered() -> None:
    async def test(pipeline: Pipeline, outbox: Outbox, store: Store) -> None:
        first = Event()
        pipeline.sequence.received[INPUT] = 42  # every offset below 42 processed
        await pipeline._settle(events(first))
        await asyncio.sleep(0)
        assert not first.acked
        assert pipeline.commit_frontier(TP(INPUT.topic, INPUT.partition)) is None

        outbox.deliveries[0].set_result("metadata")
        await pipeline.settled()
        assert first.acked
        assert store.persisted_batches == [["metadata"]]
        assert pipeline.commit_frontier(TP(INPUT.topic, INPUT.partition)) == 42

    run(test)


def test_the_next_batch_publishes_only_after_the_one_before_is_settled() -> None:
    async def test(pipeline: Pipeline, outbox: Outbox, store: Store) -> None:
        first, second = Event(), Event()
        await pipeline._settle(events(first))
        pipeline.sequence.received[INPUT] = 7
        next_settle = asyncio.ensure_future(pipeline._settle(events(second)))
        await asyncio.sleep(0.01)
        assert len(outbox.deliveries) == 1, "the second batch's records went out before the first was delivered"
        assert not next_settle.done()

        outbox.deliveries[0].set_result("first")
        await next_settle
        assert first.acked and not second.acked
        assert len(outbox.deliveries) == 2
        assert pipeline.commit_frontier(TP(INPUT.topic, INPUT.partition)) is None

        outbox.deliveries[1].set_result("second")
        await pipeline.settled()
        assert second.acked
        assert store.persisted_batches == [["first"], ["second"]]
        assert pipeline.commit_frontier(TP(INPUT.topic, INPUT.partition)) == 7

    run(test)


def test_a_failed_delivery_acks_nothing_and_raises_at_the_next_batch() -> None:
    async def test(pipeline: Pipeline, outbox: Outbox, store: Store) -> None:
        first, second = Event(), Event()
        pipeline.sequence.received[INPUT] = 42
        await pipeline._settle(events(first))
        outbox.deliveries[0].set_exception(KafkaTimeoutError("no broker"))
        with pytest.raises(KafkaTimeoutError):
            await pipeline._settle(events(second))
        assert not first.acked and not second.acked
        assert store.persisted_batches == []
        assert pipeline.commit_frontier(TP(INPUT.topic, INPUT.partition)) is None
        assert len(outbox.deliveries) == 1, "a batch went out after a failed one"
        await pipeline.finish_deliveries()  # a rebalance or a shutdown goes on: the events are read again

    run(test)


def test_a_failed_delivery_is_raised_once_and_the_batch_after_goes_out() -> None:
    async def test(pipeline: Pipeline, outbox: Outbox, store: Store) -> None:
        first, second, third = Event(), Event(), Event()
        pipeline.sequence.received[INPUT] = 42
        await pipeline._settle(events(first))
        outbox.deliveries[0].set_exception(KafkaTimeoutError("no broker"))
        with pytest.raises(KafkaTimeoutError):
            await pipeline._settle(events(second))
        await pipeline._settle(events(third))  # the agent, restarted, goes on
        assert len(outbox.deliveries) == 2
        outbox.deliveries[1].set_result(None)
        await pipeline.settled()
        assert third.acked and not first.acked and not second.acked

    run(test)
