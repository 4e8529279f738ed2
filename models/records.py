"""Output records: score records and dead letters, in their published JSON shape.

The shapes are contracts with downstream services; their JSON Schemas live in
``models/schemas`` and tests check real output against them.
"""

from __future__ import annotations

from typing import Any

from models.events import Event
from models.state import CustomerState
from models.timeutil import to_iso

SCHEMA_VERSION = 1
DEAD_LETTER_RAW_BYTES = 4096


def score_record(state: CustomerState, event: Event, scores: dict[str, Any], emitted_at: int) -> dict[str, Any]:
    """The record published on ``customer-scores`` after ``event``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "customer_id": state.customer_id,
        "event_id": event.event_id,
        "event_type": event.type,
        "ts": to_iso(event.ts),
        "emitted_at": to_iso(emitted_at),
        "scores": scores,
        "state": state_view(state),
    }


def state_view(state: CustomerState) -> dict[str, Any]:
    """The published subset of a customer's state."""
    return {
        "orders": state.orders,
        "spend": state.spend,
        "clicks": state.clicks,
        "sessions": state.sessions,
        "reviews": state.reviews,
        "first_order_ts": None if state.first_order_ts is None else to_iso(state.first_order_ts),
        "last_order_ts": None if state.last_order_ts is None else to_iso(state.last_order_ts),
        "avg_rating": state.avg_rating,
    }


def dead_letter(
    reason: str,
    message: str,
    raw: bytes,
    topic: str,
    partition: int | None,
    offset: int | None,
    received_at: int,
) -> dict[str, Any]:
    """The record published on ``events-dlq``: enough to find, fix and resend the event."""
    return {
        "schema_version": SCHEMA_VERSION,
        "reason": reason,
        "message": message,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "raw": raw[:DEAD_LETTER_RAW_BYTES].decode("utf-8", errors="replace"),
        "raw_bytes": len(raw),
        "received_at": to_iso(received_at),
    }
