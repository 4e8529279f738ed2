"""A catalogue of invalid events, each with the dead-letter reason it must get."""

from __future__ import annotations

import json
from collections.abc import Callable

import orjson

VALID_ORDER = {
    "event_id": "o-1",
    "customer_id": "c-1",
    "ts": "2024-03-01T10:00:00Z",
    "order_id": "ord-1",
    "amount": 25.5,
    "items": 2,
}
VALID_CLICK = {"event_id": "k-1", "customer_id": "c-1", "ts": 1709287200000, "session_id": "s-1", "action": "view"}
VALID_REVIEW = {
    "event_id": "r-1",
    "customer_id": "c-1",
    "ts": "2024-03-01T10:00:00+01:00",
    "product_id": "p-1",
    "rating": 4,
    "text": "good",
}


def _with(base: dict, **changes: object) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


_DROP = object()


def _py_json(obj: dict) -> bytes:
    """Python's json module writes NaN and Infinity, as careless producers do."""
    return json.dumps(obj).encode()


# kind -> (topic type, builder of the i-th raw event, expected reason)
BAD_EVENTS: dict[str, tuple[str, Callable[[int], bytes], str]] = {
    "not_json": ("order", lambda i: b"{not json " + str(i).encode(), "invalid_json"),
    "missing_field": (
        "order",
        lambda i: orjson.dumps(_with(VALID_ORDER, event_id=f"bad-mf-{i}", amount=_DROP)),
        "missing_field",
    ),
    "wrong_type": (
        "click",
        lambda i: orjson.dumps(_with(VALID_CLICK, event_id=f"bad-wt-{i}", session_id=[i])),
        "wrong_type",
    ),
    "negative_amount": (
        "order",
        lambda i: orjson.dumps(_with(VALID_ORDER, event_id=f"bad-na-{i}", amount=-1 - i)),
        "invalid_amount",
    ),
    "nan_amount": (
        "order",
        lambda i: _py_json(_with(VALID_ORDER, event_id=f"bad-nan-{i}", amount=float("nan"))),
        "invalid_amount",
    ),
    "infinite_amount": (
        "order",
        lambda i: _py_json(_with(VALID_ORDER, event_id=f"bad-inf-{i}", amount=float("inf"))),
        "invalid_amount",
    ),
    "bad_time": (
        "review",
        lambda i: orjson.dumps(_with(VALID_REVIEW, event_id=f"bad-ts-{i}", ts=f"yesterday {i}")),
        "invalid_ts",
    ),
    "unknown_type": (
        "click",
        lambda i: orjson.dumps(_with(VALID_CLICK, event_id=f"bad-ut-{i}", type="wishlist")),
        "unknown_type",
    ),
    "rating_out_of_range": (
        "review",
        lambda i: orjson.dumps(_with(VALID_REVIEW, event_id=f"bad-rr-{i}", rating=6 + i % 3)),
        "rating_out_of_range",
    ),
    "oversized_text": (
        "review",
        lambda i: orjson.dumps(_with(VALID_REVIEW, event_id=f"bad-tx-{i}", text="好" * (10_001 + i))),
        "text_too_long",
    ),
}
