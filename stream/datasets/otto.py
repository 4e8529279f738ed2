"""OTTO (otto.de): real click, cart and order events of anonymised sessions, ms timestamps.

The shared file holds the first 20 training sessions of the OTTO RecSys data set
(CC BY 4.0); the full data set has the same JSON Lines format and converts the same way.

Mapping: an OTTO session is one shopper over up to four weeks, so it becomes customer
``otto-<session>``, cut into our sessions after 30 minutes without an event
(``otto-<session>-<n>``). ``clicks`` become ``view`` clicks and ``carts`` become
``add_to_cart`` clicks of ``product_id`` the article id; the ``orders`` events that
share a timestamp are one ``order`` whose ``items`` is the number of articles and whose
amount is 0 (OTTO publishes no prices). ``event_id`` ``otto-<session>-<position>``.

Skipped, by reason: unreadable lines and events of an unknown type or without a time.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

from models.errors import ConfigError
from models.eventlog import write_log
from models.timeutil import to_iso
from stream.datasets import Conversion, data_file

FOLDER, FILE = "otto_recsys_sessions_sample", "otto_train_first20_sessions.jsonl.gz"
SESSION_GAP_MS = 30 * 60 * 1000
ACTIONS = {"clicks": "view", "carts": "add_to_cart"}


def convert(out: Path, source: Path | None = None) -> Conversion:
    path = data_file(source, FOLDER, FILE)
    result = Conversion(source=str(path))
    events: list[dict[str, Any]] = []
    for line in _lines(path):
        try:
            record = orjson.loads(line)
            session, raw_events = int(record["session"]), list(record["events"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            result.skipped["unreadable_line"] += 1
            continue
        events.extend(_session(session, raw_events, result))
    events.sort(key=lambda e: e["ts"])  # stable: same-time events keep their order
    for event in events:
        result.events[event["type"] if event["type"] == "order" else f"click_{event['action']}"] += 1
    write_log(out, events)
    return result


def _lines(path: Path) -> list[bytes]:
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        data = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return [line for line in data.splitlines() if line.strip()]


def _session(session: int, raw_events: list[Any], result: Conversion) -> list[dict[str, Any]]:
    customer = f"otto-{session}"
    events: list[dict[str, Any]] = []
    orders: dict[int, dict[str, Any]] = {}
    visit, last_ts = 0, None
    for position, raw in enumerate(raw_events):
        kind, ts, aid = (raw.get("type"), raw.get("ts"), raw.get("aid")) if isinstance(raw, dict) else (None,) * 3
        if not isinstance(ts, int) or aid is None or (kind not in ACTIONS and kind != "orders"):
            result.skipped["unknown_type_or_no_time"] += 1
            continue
        if last_ts is not None and ts - last_ts > SESSION_GAP_MS:
            visit += 1
        last_ts = max(ts, last_ts or ts)
        event_id = f"{customer}-{position}"
        if kind == "orders":
            if ts in orders:
                orders[ts]["items"] += 1
                continue
            orders[ts] = {
                "type": "order",
                "event_id": event_id,
                "customer_id": customer,
                "ts": to_iso(ts),
                "order_id": event_id,
                "amount": 0.0,
                "currency": "EUR",
                "items": 1,
                "status": "placed",
            }
            events.append(orders[ts])
            continue
        events.append(
            {
                "type": "click",
                "event_id": event_id,
                "customer_id": customer,
                "ts": to_iso(ts),
                "session_id": f"{customer}-{visit}",
                "action": ACTIONS[kind],
                "product_id": str(aid),
            }
        )
    return events
