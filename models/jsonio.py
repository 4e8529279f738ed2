"""The one place that owns JSON encoding options."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; keys in insertion order so records read the same everywhere."""
    return orjson.dumps(obj)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
