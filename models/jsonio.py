"""The one place that owns JSON encoding options."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; keys in insertion order so records read the same everywhere.

    Copied to a bytes object of its own length: orjson 3.12 and later return their whole
    working buffer (4 KiB or more, whatever the JSON's length), and records kept for a
    while, queued or cached, would each hold one.
    """
    return bytes(memoryview(orjson.dumps(obj)))


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
