"""``pulse forget ID``: ask the workers to erase a customer, and wait until one confirms.

The request goes to the ``customer-erasure`` topic, keyed by the customer id so it
reaches the worker that owns the customer's partition. That worker deletes the state
(a tombstone on the table's changelog), drops the models' per-customer data, rewrites
its model checkpoint and publishes a tombstone on ``customer-scores`` under the key the
customer's scores carry (its pseudonym when pseudonymisation is on). That tombstone is
the confirmation this command waits for.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from models.jsonio import dumps
from models.privacy import Pseudonymiser
from models.timeutil import now_ms, to_iso
from stream.producer import produce
from stream.security import kafka_options
from stream.settings import Settings
from stream.topics import ensure_topics, erasure_topic


@dataclass(frozen=True)
class ErasureResult:
    customer_id: str
    published_key: str
    confirmed_after_s: float | None

    def summary(self) -> str:
        if self.confirmed_after_s is None:
            return (
                f"erasure of {self.customer_id!r} requested, not confirmed yet: no worker answered in time. "
                "The request stays on the topic; a worker applies it when it runs."
            )
        return (
            f"customer {self.customer_id!r} erased after {self.confirmed_after_s:.1f} s: state, alert memory, "
            "pending labels, open sessions, census copy and value book; tombstone on customer-scores "
            f"under key {self.published_key}"
        )


def published_key(settings: Settings, customer_id: str) -> str:
    """The key the customer's records carry on the output topics."""
    key = settings.pseudonymise_key.reveal().encode()
    return Pseudonymiser(key).pseudonym(customer_id) if key else customer_id


async def forget(settings: Settings, customer_id: str, wait_s: float) -> ErasureResult:
    """Send the erasure request; wait up to ``wait_s`` for the worker's tombstone (0: do not wait)."""
    await ensure_topics(settings)
    key = published_key(settings, customer_id)
    consumer = await _listen(settings) if wait_s > 0 else None
    request = {"customer_id": customer_id, "requested_at": to_iso(now_ms())}
    started = time.monotonic()
    await produce(settings, [(erasure_topic(settings), customer_id.encode(), dumps(request))])
    if consumer is None:
        return ErasureResult(customer_id, key, None)
    try:
        confirmed = await _await_tombstone(consumer, key.encode(), started + wait_s)
    finally:
        await consumer.stop()
    return ErasureResult(customer_id, key, time.monotonic() - started if confirmed else None)


async def _listen(settings: Settings) -> AIOKafkaConsumer:
    """A consumer at the current end of ``customer-scores``, started before the request is sent."""
    consumer = AIOKafkaConsumer(
        settings.topic("customer-scores"),
        bootstrap_servers=settings.bootstrap_servers,
        **kafka_options(settings),
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    for tp in consumer.assignment():
        await consumer.position(tp)  # pins "latest" now, before the tombstone can exist
    return consumer


async def _await_tombstone(consumer: AIOKafkaConsumer, key: bytes, deadline: float) -> bool:
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        if any(m.key == key and m.value is None for messages in batches.values() for m in messages):
            return True
    return False


def run_forget(settings: Settings, customer_id: str, wait_s: float) -> int:
    result = asyncio.run(forget(settings, customer_id, wait_s))
    print(result.summary())
    return 0 if result.confirmed_after_s is not None or wait_s <= 0 else 1
