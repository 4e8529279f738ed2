"""Input events and the validation of their contracts.

An event arrives as JSON bytes, from a Kafka topic (its type is the topic's) or from a
line of an event log (its type is the ``type`` field). ``decode_event`` turns the bytes
into a frozen ``Order``, ``Click`` or ``Review``, or raises ``InvalidEvent`` with one
short reason from ``REASONS`` and a readable message. Unknown extra fields are ignored
so producers can add fields without breaking consumers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from models.errors import InvalidEvent
from models.timeutil import TimestampError, parse_ts

MAX_EVENT_BYTES = 1 << 20
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 10_000
MAX_SHORT_TEXT_CHARS = 2_048

ORDER_STATUSES = ("placed", "cancelled", "refunded")
CLICK_ACTIONS = ("view", "search", "add_to_cart", "remove_from_cart", "checkout")
EVENT_TYPES = ("order", "click", "review")

#: Every reason an event can be rejected for, as written to the dead-letter topic.
REASONS = (
    "too_large",
    "invalid_encoding",
    "invalid_json",
    "not_an_object",
    "unknown_type",
    "type_mismatch",
    "missing_field",
    "wrong_type",
    "invalid_amount",
    "invalid_ts",
    "rating_out_of_range",
    "text_too_long",
    "invalid_value",
)


@dataclass(frozen=True, slots=True)
class Order:
    """A placed order, or the cancellation or refund of one (``status``)."""

    type: ClassVar[str] = "order"
    event_id: str
    customer_id: str
    ts: int
    order_id: str
    amount: float
    currency: str
    items: int
    category: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Click:
    """One action of a customer in a browsing session."""

    type: ClassVar[str] = "click"
    event_id: str
    customer_id: str
    ts: int
    session_id: str
    action: str
    product_id: str | None
    page: str | None


@dataclass(frozen=True, slots=True)
class Review:
    """A product review with its 1..5 rating and free text in any language."""

    type: ClassVar[str] = "review"
    event_id: str
    customer_id: str
    ts: int
    product_id: str
    rating: int
    text: str


Event = Order | Click | Review


def decode_event(raw: bytes, expected_type: str | None = None) -> Event:
    """Decode and validate one event.

    ``expected_type`` is the type implied by the source topic; ``None`` means the event
    must say its own type (event logs).

    >>> decode_event(b'{"event_id":"e1","customer_id":"c1","ts":1704067200000,'
    ...              b'"session_id":"s1","action":"view"}', "click").action
    'view'
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent("too_large", f"event is {len(raw)} bytes, the limit is {MAX_EVENT_BYTES}")
    obj = _loads(raw)
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"event must be a JSON object, got {type(obj).__name__}")
    return parse_event(obj, expected_type)


def parse_event(obj: Mapping[str, Any], expected_type: str | None = None) -> Event:
    """Validate an already decoded JSON object as an event of its type."""
    declared = obj.get("type")
    if declared is None and expected_type is None:
        raise InvalidEvent("missing_field", "field 'type' is required in an event log (order, click or review)")
    if declared is not None and declared not in EVENT_TYPES:
        raise InvalidEvent("unknown_type", f"type {_short(declared)} is not one of order, click, review")
    if declared is not None and expected_type is not None and declared != expected_type:
        raise InvalidEvent("type_mismatch", f"a {declared} event on the {expected_type} topic")
    kind = expected_type or str(declared)
    return _PARSERS[kind](obj)


def decode_erasure(raw: bytes, key: bytes | None) -> str:
    """The customer id of an erasure request: ``{"customer_id": ...}`` keyed by that id.

    The key must match: it decides the partition, and so which worker holds the state.

    >>> decode_erasure(b'{"customer_id": "c1"}', b"c1")
    'c1'
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent("too_large", f"request is {len(raw)} bytes, the limit is {MAX_EVENT_BYTES}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("invalid_json", f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"an erasure request must be a JSON object, got {type(obj).__name__}")
    customer_id = _ident(obj, "customer_id")
    if key != customer_id.encode():
        raise InvalidEvent("invalid_value", "an erasure request must be keyed by its customer_id")
    return customer_id


def _loads(raw: bytes) -> Any:
    """Parse JSON strictly, refining the reason when a lenient parse sees more.

    orjson rejects NaN, Infinity and overflowing numbers as syntax errors; producers
    that write them with Python's json module meant a number, so a lenient re-parse
    lets validation name the real problem (``invalid_amount``) instead.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        strict_error = exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("invalid_encoding", f"event is not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        lenient = json.loads(text)
    except (ValueError, RecursionError):
        lenient = None
    if isinstance(lenient, dict):
        try:
            parse_event(lenient, lenient.get("type") if isinstance(lenient.get("type"), str) else "order")
        except InvalidEvent as refined:
            if refined.reason in ("invalid_amount", "invalid_ts", "wrong_type"):
                raise refined from strict_error
    raise InvalidEvent("invalid_json", f"not valid JSON: {strict_error}") from strict_error


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _require(obj: Mapping[str, Any], name: str) -> Any:
    value = obj.get(name)
    if value is None:
        raise InvalidEvent("missing_field", f"field {name!r} is required")
    return value


def _ident(obj: Mapping[str, Any], name: str) -> str:
    """A required identifier: a non-empty string (integers are accepted and read as text)."""
    ident = _optional_ident(obj, name)
    if ident is None:
        raise InvalidEvent("missing_field", f"field {name!r} is required")
    return ident


def _optional_ident(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEvent("wrong_type", f"field {name!r} must be a string, got {type(value).__name__}")
    text = str(value)
    if not text or len(text) > MAX_ID_CHARS:
        raise InvalidEvent("invalid_value", f"field {name!r} must have 1..{MAX_ID_CHARS} characters")
    return text


def _text(obj: Mapping[str, Any], name: str, limit: int, reason: str = "invalid_value") -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"field {name!r} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidEvent(reason, f"field {name!r} has {len(value)} characters, the limit is {limit}")
    return value


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = _require(obj, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("wrong_type", f"field {name!r} must be an integer, got {type(value).__name__}")
    if isinstance(value, float) and not value.is_integer():
        raise InvalidEvent("wrong_type", f"field {name!r} must be an integer, got {value}")
    return int(value)


def _choice(obj: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = obj.get(name, default)
    if value is None:
        raise InvalidEvent("missing_field", f"field {name!r} is required")
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"field {name!r} must be a string, got {type(value).__name__}")
    if value not in allowed:
        raise InvalidEvent("invalid_value", f"field {name!r} is {_short(value)}, expected one of {', '.join(allowed)}")
    return value


def _ts(obj: Mapping[str, Any]) -> int:
    try:
        return parse_ts(_require(obj, "ts"))
    except TimestampError as exc:
        raise InvalidEvent("invalid_ts", str(exc)) from exc


def _amount(obj: Mapping[str, Any]) -> float:
    value = _require(obj, "amount")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("wrong_type", f"field 'amount' must be a number, got {type(value).__name__}")
    amount = float(value)
    if not math.isfinite(amount):
        raise InvalidEvent("invalid_amount", f"amount {value} is not finite")
    if amount < 0:
        raise InvalidEvent("invalid_amount", f"amount {value} is negative")
    return amount


def _currency(obj: Mapping[str, Any]) -> str:
    value = obj.get("currency", "USD")
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"field 'currency' must be a string, got {type(value).__name__}")
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise InvalidEvent("invalid_value", f"currency {_short(value)} is not a 3-letter ISO 4217 code")
    return value.upper()


def _common(obj: Mapping[str, Any]) -> tuple[str, str, int]:
    """The fields every event has, checked first so the first problem reported is the most basic."""
    return _ident(obj, "event_id"), _ident(obj, "customer_id"), _ts(obj)


def _items(obj: Mapping[str, Any]) -> int:
    items = _int(obj, "items")
    if items < 1:
        raise InvalidEvent("invalid_value", f"items is {items}, must be at least 1")
    return items


def _parse_order(obj: Mapping[str, Any]) -> Order:
    event_id, customer_id, ts = _common(obj)
    return Order(
        event_id=event_id,
        customer_id=customer_id,
        ts=ts,
        order_id=_ident(obj, "order_id"),
        amount=_amount(obj),
        currency=_currency(obj),
        items=_items(obj),
        category=_text(obj, "category", MAX_SHORT_TEXT_CHARS),
        status=_choice(obj, "status", ORDER_STATUSES, default="placed"),
    )


def _parse_click(obj: Mapping[str, Any]) -> Click:
    event_id, customer_id, ts = _common(obj)
    return Click(
        event_id=event_id,
        customer_id=customer_id,
        ts=ts,
        session_id=_ident(obj, "session_id"),
        action=_choice(obj, "action", CLICK_ACTIONS),
        product_id=_optional_ident(obj, "product_id"),
        page=_text(obj, "page", MAX_SHORT_TEXT_CHARS),
    )


def _parse_review(obj: Mapping[str, Any]) -> Review:
    event_id, customer_id, ts = _common(obj)
    product_id = _ident(obj, "product_id")
    rating = _int(obj, "rating")
    if not 1 <= rating <= 5:
        raise InvalidEvent("rating_out_of_range", f"rating is {rating}, must be 1..5")
    text = _text(obj, "text", MAX_TEXT_CHARS, reason="text_too_long")
    if text is None:
        raise InvalidEvent("missing_field", "field 'text' is required")
    return Review(
        event_id=event_id,
        customer_id=customer_id,
        ts=ts,
        product_id=product_id,
        rating=rating,
        text=text,
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "order": _parse_order,
    "click": _parse_click,
    "review": _parse_review,
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready dict with its ``type``, ``ts`` kept as epoch ms."""
    out: dict[str, Any] = {"type": event.type}
    for name in event.__slots__:  # type: ignore[union-attr]
        out[name] = getattr(event, name)
    return out
