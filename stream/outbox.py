"""The worker's output records, published a batch at a time.

Sending each score through Faust's ``Topic.send`` costs more than scoring the event:
every record becomes a pending message, a future and a sensor call. The outbox keeps
the records of one batch in memory and hands them to aiokafka as whole record batches,
one append per record and one future per batch per partition. Records are partitioned
like any keyed Kafka record (murmur2 of the key), so consumers see the same layout,
unless a record names its partition (the state changelog follows its input partition).

For topics read back by offset (``exact_end``), the last record of each partition goes
in a record batch of its own. Some brokers (the embedded one among them) answer a
ListOffsets(latest) request with the base offset of the last record batch + 1; a
one-record last batch makes that the true end, so a table restored "up to the end"
gets every record.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

Record = tuple[bytes | None, bytes | None]
#: A record waiting for ``publish``, with the partition it names (``None``: by its key).
Queued = tuple[bytes | None, bytes | None, int | None]


class Outbox:
    """Collects ``(topic, key, value)`` records; ``publish`` sends them in order per partition."""

    def __init__(self, new_producer: Callable[[], AIOKafkaProducer], exact_end: Collection[str] = ()) -> None:
        self._new_producer = new_producer
        self._exact_end = frozenset(exact_end)
        self._producer: AIOKafkaProducer | None = None
        self._records: dict[str, list[Queued]] = defaultdict(list)
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()
        self._lock = asyncio.Lock()

    def add(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None) -> None:
        """Queue a record (``value`` ``None``: a tombstone) for the next ``publish``."""
        self._records[topic].append((key, value, partition))

    async def publish(self) -> list[Awaitable[Any]]:
        """Hand every queued record to the producer.

        Each future resolves once the broker has its batch, to the batch's
        ``RecordMetadata`` (topic, partition and the offset of its first record).
        """
        if not self._records:
            return []
        producer = await self._started()
        records, self._records = self._records, defaultdict(list)
        sends = [
            self._send(producer, topic, partition, keyed)
            for topic, topic_records in records.items()
            for partition, keyed in (await self._by_partition(producer, topic, topic_records)).items()
        ]
        # Partitions concurrently: a partition's next batch waits until the producer has
        # taken the one before into a request, a broker round trip when one is in flight.
        # One partition after another, those waits added up to several round trips.
        return [delivery for sent in await asyncio.gather(*sends) for delivery in sent]

    async def close(self) -> None:
        """Stop the producer after sending what it holds; a later ``publish`` starts a new one."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = self._new_producer()
                await producer.start()
                self._producer = producer
            return self._producer

    async def _by_partition(
        self, producer: AIOKafkaProducer, topic: str, records: list[Queued]
    ) -> dict[int, list[Record]]:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        grouped: dict[int, list[Record]] = defaultdict(list)
        for key, value, partition in records:
            if partition is None:
                partition = self._partitioner(key, partitions, partitions)
            grouped[partition].append((key, value))
        return grouped

    async def _send(self, producer: AIOKafkaProducer, topic: str, partition: int, records: list[Record]) -> list[Any]:
        if topic in self._exact_end and len(records) > 1:
            return [
                *await self._send_batches(producer, topic, partition, records[:-1]),
                *await self._send_batches(producer, topic, partition, records[-1:]),
            ]
        return await self._send_batches(producer, topic, partition, records)

    async def _send_batches(
        self, producer: AIOKafkaProducer, topic: str, partition: int, records: list[Record]
    ) -> list[Any]:
        """Fill record batches up to the producer's batch size; send each as it fills."""
        deliveries = []
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(timestamp=None, key=key, value=value) is None:
                deliveries.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                if batch.append(timestamp=None, key=key, value=value) is None:
                    raise ValueError(f"a record of {len(value or b'')} bytes does not fit in a batch for {topic}")
        deliveries.append(await producer.send_batch(batch, topic, partition=partition))
        return deliveries
