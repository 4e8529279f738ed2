"""``pulse alerts tail``: follow the alert topic and print each alert as one readable line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from models.alert_rules import RULE_FIELDS
from models.errors import ConfigError
from stream.security import kafka_options
from stream.settings import Settings

SEVERITY_MARKS = {"critical": "!!", "warning": "! ", "info": "  "}


def format_alert(alert: dict[str, Any]) -> str:
    """``ts  mark severity  rule  customer  reason`` on one line, columns aligned."""
    mark = SEVERITY_MARKS.get(alert.get("severity", ""), "  ")
    return (
        f"{alert.get('ts', '?')} {mark} {alert.get('severity', '?'):<9} {alert.get('rule', '?'):<20} "
        f"{alert.get('customer_id', '?'):<11} {alert.get('reason', '')}"
    )


async def tail(
    settings: Settings,
    rule: str | None = None,
    from_beginning: bool = False,
    limit: int | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Print alerts as they arrive (only ``rule``'s if given); stop after ``limit``. Returns how many."""
    if rule is not None and rule not in RULE_FIELDS:
        raise ConfigError(f"--rule {rule!r} is not a rule (rules: {', '.join(sorted(RULE_FIELDS))})")
    consumer = AIOKafkaConsumer(
        settings.topic("customer-alerts"),
        bootstrap_servers=settings.bootstrap_servers,
        **kafka_options(settings),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    shown = 0
    try:
        async for message in consumer:
            try:
                alert = orjson.loads(message.value or b"")
            except orjson.JSONDecodeError:
                out(f"(offset {message.offset}: not an alert record)")
                continue
            if rule is None or alert.get("rule") == rule:
                out(format_alert(alert))
                shown += 1
                if limit is not None and shown >= limit:
                    break
    finally:
        await consumer.stop()
    return shown


def run_tail(settings: Settings, rule: str | None, from_beginning: bool, limit: int | None) -> int:
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a tail ends
        asyncio.run(tail(settings, rule, from_beginning, limit))
    return 0
