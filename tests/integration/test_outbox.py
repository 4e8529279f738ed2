"""The outbox on the embedded broker: order per partition, explicit partitions, exact ends;
and ``produce``, which sends through it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.backtest import partition_for
from stream.outbox import Outbox
from stream.producer import produce, producer_for
from tests.harness import Cluster, read_partitions_to_end, read_to_end

pytestmark = pytest.mark.integration

#: Kafka's API key of a Produce request.
PRODUCE_API_KEY = 0


async def _publish(cluster: Cluster, exact_end: list[str], records: list[tuple[str, bytes, bytes, int | None]]) -> list:
    outbox = Outbox(lambda: producer_for(cluster.settings, linger_ms=0), exact_end=exact_end)
    try:
        for topic, key, value, partition in records:
            outbox.add(topic, key, value, partition)
        return await asyncio.gather(*await outbox.publish())
    finally:
        await outbox.close()


async def _end_offsets(cluster: Cluster, topic: str, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=cluster.broker.bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


def test_exact_end_topics_report_their_true_end_and_keep_order(cluster: Cluster) -> None:
    cluster.create_topics()
    changelog, scores = cluster.topic("customer-scores"), cluster.topic("customer-alerts")
    records = [(changelog, b"c%d" % (i % 7), b"%d" % i, i % 2) for i in range(50)]
    records += [(scores, b"c%d" % (i % 7), b"%d" % i, None) for i in range(50)]
    deliveries = asyncio.run(_publish(cluster, [changelog], records))

    ends = asyncio.run(_end_offsets(cluster, changelog, cluster.partitions))
    assert ends[0] == 25 and ends[1] == 25  # explicit partitions, every record counted by ListOffsets
    batches = sorted((md.partition, md.offset) for md in deliveries if md.topic == changelog)
    assert batches == [(0, 0), (0, 24), (1, 0), (1, 24)]  # the last record of each partition in a batch alone
    by_key: dict[bytes, list[int]] = {}
    for key, value in read_to_end(cluster.broker, scores):
        by_key.setdefault(key, []).append(int(value))
    assert sum(map(len, by_key.values())) == 50
    assert all(values == sorted(values) for values in by_key.values())  # order kept per key


def test_a_publish_over_many_partitions_shares_produce_requests(cluster: Cluster) -> None:
    """Each exact-end partition sends two batches; the second of each waits for a request.

    Waited for one partition after another, those waits took five produce requests (broker
    round trips) for eight partitions; now the heads share one request and the tails the next.
    """
    cluster.create_topics()
    changelog = cluster.topic("customer-scores")
    requests: list[Any] = []

    def new_producer() -> AIOKafkaProducer:
        producer = producer_for(cluster.settings, linger_ms=0)
        send = producer.client.send

        async def counted(node_id: int, request: Any, **kwargs: Any) -> Any:
            if request.API_KEY == PRODUCE_API_KEY:
                requests.append(request)
            return await send(node_id, request, **kwargs)

        producer.client.send = counted  # type: ignore[method-assign]
        return producer

    async def publish() -> list:
        outbox = Outbox(new_producer, exact_end=[changelog])
        try:
            for i in range(400):
                outbox.add(changelog, b"c%d" % i, b"%d" % i, i % cluster.partitions)
            return await asyncio.gather(*await outbox.publish())
        finally:
            await outbox.close()

    deliveries = asyncio.run(publish())
    assert len(deliveries) == 2 * cluster.partitions
    assert len(requests) <= 3, f"{len(requests)} produce requests"  # 5 one partition after another


@pytest.mark.parametrize("rate", [None, 20_000.0])
def test_produce_puts_each_key_on_its_default_partition_in_order(cluster: Cluster, rate: float | None) -> None:
    """Bursts go out as record batches, yet land where a record-at-a-time producer puts them."""
    cluster.create_topics()
    topic = cluster.topic("clicks")
    records = [(topic, b"c%d" % (i % 37), b"%d" % i) for i in range(5_000)]
    assert asyncio.run(produce(cluster.settings, records, rate)) == 5_000

    stored = read_partitions_to_end(cluster.broker, topic)
    assert sum(map(len, stored.values())) == 5_000
    assert len(stored) > 1  # the keys spread over several partitions
    for partition, partition_records in stored.items():
        assert {partition_for(key.decode(), cluster.partitions) for key, _ in partition_records} == {partition}
        values = [int(value) for _, value in partition_records]
        assert values == sorted(values)  # sent order kept within the partition
