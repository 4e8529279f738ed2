"""Producing events into the input topics, keyed by customer id."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from models.jsonio import dumps
from stream.outbox import Outbox
from stream.security import kafka_options
from stream.settings import Settings
from stream.topics import INPUT_TYPES

TOPIC_FOR_TYPE = {kind: name for name, kind in INPUT_TYPES.items()}


def topic_and_payload(event: dict[str, Any], settings: Settings) -> tuple[str, bytes | None, bytes]:
    """Split a log event into (topic, key, value); the topic implies the type."""
    kind = event.get("type")
    payload = {name: value for name, value in event.items() if name != "type"}
    topic = settings.topic(TOPIC_FOR_TYPE.get(kind, "orders")) if isinstance(kind, str) else settings.topic("orders")
    customer = event.get("customer_id")
    key = str(customer).encode() if isinstance(customer, str | int) and not isinstance(customer, bool) else None
    return topic, key, dumps(payload)


def producer_for(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {"linger_ms": 5, "max_batch_size": 256 * 1024, "acks": "all", **overrides}
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, **kafka_options(settings), **options)


async def produce(
    settings: Settings,
    records: Iterable[tuple[str, bytes | None, bytes]],
    rate: float | None = None,
    burst_s: float = 0.05,
    **producer_options: Any,
) -> int:
    """Send ``(topic, key, value)`` records, at ``rate`` per second if given; return the count.

    A paced send goes out in bursts, ``rate x burst_s`` records every ``burst_s`` seconds.
    Each burst goes through the worker's outbox: one record batch per partition it
    touches, partitioned by key like any producer's, one future per batch instead of one
    per record.
    """
    outbox = Outbox(lambda: producer_for(settings, **producer_options))
    sent = 0
    try:
        async for batch in _paced(records, rate, burst_s):
            for topic, key, value in batch:
                outbox.add(topic, key, value)
            await asyncio.gather(*await outbox.publish())  # surfaces delivery errors burst by burst
            sent += len(batch)
    finally:
        await outbox.close()
    return sent


async def _paced(
    records: Iterable[tuple[str, bytes | None, bytes]], rate: float | None, burst_s: float, chunk: int = 2000
) -> AsyncIterator[list[tuple[str, bytes | None, bytes]]]:
    started = time.monotonic()
    batch: list[tuple[str, bytes | None, bytes]] = []
    sent = 0
    size = chunk if rate is None else max(1, int(rate * burst_s))
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            sent += len(batch)
            batch = []
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
    if batch:
        yield batch
