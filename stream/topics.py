"""Topic names and their creation on the broker.

The three inputs (and the internal re-key topic) must be co-partitioned: same partition
count, keyed by customer id. A mismatch would silently split a customer's events
across partitions, so it stops start-up instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from models.errors import ConfigError, PulseError
from stream.security import kafka_options
from stream.settings import Settings

log = logging.getLogger(__name__)

INPUT_TYPES = {"orders": "order", "clicks": "click", "reviews": "review"}
OUTPUTS = ("customer-scores", "customer-alerts", "events-dlq")
#: Erasure requests, keyed by customer id like the inputs (``pulse forget`` writes them).
ERASURE = "customer-erasure"


class BrokerUnavailable(PulseError):
    """The Kafka broker could not be reached."""


def rekey_topic(settings: Settings) -> str:
    """Internal topic for events that arrived keyed by something other than customer id."""
    return f"{settings.group_id}-rekey"


def input_topics(settings: Settings) -> dict[str, str | None]:
    """Full input topic name -> event type it carries (``None``: typed by its ``type`` field)."""
    topics: dict[str, str | None] = {settings.topic(name): kind for name, kind in INPUT_TYPES.items()}
    topics[rekey_topic(settings)] = None
    return topics


def erasure_topic(settings: Settings) -> str:
    return settings.topic(ERASURE)


def all_topics(settings: Settings) -> list[str]:
    return [*input_topics(settings), erasure_topic(settings), *(settings.topic(name) for name in OUTPUTS)]


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> dict[str, int]:
    """Create missing topics and check co-partitioning; return partitions per topic."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=int(timeout * 1000), **kafka_options(settings)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        raise BrokerUnavailable(f"cannot reach the Kafka broker at {settings.broker}: {exc}") from exc
    try:
        wanted = all_topics(settings)
        existing = await _partition_counts(admin, wanted)
        missing = [name for name in wanted if name not in existing]
        if missing:
            new = [NewTopic(name, settings.partitions, settings.replication_factor) for name in missing]
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created them first
                await admin.create_topics(new)
            log.info("created topics %s with %d partitions", ", ".join(missing), settings.partitions)
            existing = await _partition_counts(admin, wanted)
        _check_copartitioned(settings, existing)
        return existing
    except KafkaError as exc:
        raise BrokerUnavailable(f"topic administration on {settings.broker} failed: {exc}") from exc
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    present = set(await admin.list_topics())
    described = await admin.describe_topics([name for name in names if name in present]) if present else []
    return {item["topic"]: len(item["partitions"]) for item in described if item.get("partitions")}


def _check_copartitioned(settings: Settings, counts: dict[str, int]) -> None:
    inputs = {name: counts.get(name) for name in [*input_topics(settings), erasure_topic(settings)]}
    if len(set(inputs.values())) > 1:
        listing = ", ".join(f"{name}={count}" for name, count in inputs.items())
        raise ConfigError(
            f"input topics must have the same number of partitions (co-partitioned by customer_id): {listing}"
        )
