"""Event time as integer epoch milliseconds.

Every timestamp inside the engine is an ``int`` of milliseconds since the Unix epoch,
UTC. Integers compare and subtract exactly, so the same log gives the same results on
every machine; ISO-8601 strings exist only at the edges (input and output records).
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
MS_PER_DAY = 24 * MS_PER_HOUR

#: Accepted event-time range. Anything outside is a producer bug, not a customer.
MIN_TS_MS = 631_152_000_000  # 1990-01-01T00:00:00Z
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


class TimestampError(ValueError):
    """A timestamp that cannot be read as event time."""


def parse_ts(value: object) -> int:
    """Read ``value`` (ISO-8601 with a zone, or epoch milliseconds) as epoch ms.

    >>> parse_ts("2024-01-01T00:00:01.5Z")
    1704067201500
    >>> parse_ts(1704067201500)
    1704067201500
    """
    if isinstance(value, bool):
        raise TimestampError("ts must be an ISO-8601 string or epoch milliseconds, not a boolean")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TimestampError("ts is not a finite number")
        ms = int(value)
    elif isinstance(value, str):
        ms = _parse_iso(value)
    else:
        raise TimestampError(f"ts must be an ISO-8601 string or epoch milliseconds, got {type(value).__name__}")
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise TimestampError(f"ts {value!r} is outside 1990-01-01..2100-01-01")
    return ms


def _parse_iso(text: str) -> int:
    if len(text) > 64:
        raise TimestampError("ts string is too long to be ISO-8601")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimestampError(f"ts {text!r} is not ISO-8601") from exc
    if parsed.tzinfo is None:
        raise TimestampError(f"ts {text!r} has no time zone")
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MS_PER_SECOND + delta.microseconds // 1_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def to_iso(ms: int) -> str:
    """Format epoch ms as ISO-8601 UTC with millisecond precision.

    Cached (small, as every entry costs about 200 bytes): records written close
    together share their ``emitted_at`` and often an active customer's order times.

    >>> to_iso(1704067201500)
    '2024-01-01T00:00:01.500Z'
    """
    days, rest = divmod(ms, MS_PER_DAY)
    seconds, millis = divmod(rest, MS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_iso_date(days)}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_date(days: int) -> str:
    """The date ``days`` after 1970-01-01: cached, as a stream's events fall on few days."""
    return (_EPOCH + timedelta(days=days)).strftime("%Y-%m-%d")


def now_ms() -> int:
    """Wall-clock time in epoch ms: only for ``emitted_at`` and ``received_at`` stamps."""
    return time.time_ns() // 1_000_000
