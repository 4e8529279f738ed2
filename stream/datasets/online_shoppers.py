"""Online Shoppers Purchasing Intention (UCI): 12,330 sessions of one shop over a year.

The source keeps per-session page counts and durations, the month, a weekend flag and
whether the session bought (``Revenue``); no visitor ids, no clock times, no click
order. Each session becomes a click sequence that reproduces its counts and durations:

- customer ``os-<row>`` and session ``os-<row>`` (sessions cannot be linked to people);
- the session starts in its month of 2017 on a day whose weekend flag matches the row,
  at a time of day spread evenly over the month's sessions (all made up, the same on
  every run);
- one ``view`` click per page: the Administrative pages (page ``/account``), then the
  Informational ones (``/info``), then the ProductRelated ones (``/product``, each with
  its own ``product_id``); each page's click comes that page's share of its kind's
  duration after the previous one, so the gaps between clicks are the durations (the
  last page's duration has no next click to end it unless the session bought);
- a session with Revenue ends with an ``add_to_cart`` click of the last product when
  its page time is over, a ``checkout`` click 20 seconds later, then an ``order`` one
  second after that whose amount is the session's
  PageValues (the source has no order amounts).

Kept after a repair: durations of -1 (missing in the source) are read as 0.
Skipped, by reason: rows whose page counts are empty, sessions with no pages, and
unreadable rows.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.eventlog import write_log
from models.timeutil import MS_PER_DAY, to_iso
from stream.datasets import Conversion, data_file, read_csv

FOLDER, FILE = "online_shoppers_intention", "online_shoppers_intention.csv.gz"
YEAR = 2017
MONTHS = {name: number for number, name in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "June"), start=1)}
MONTHS.update({name: number for number, name in enumerate(("Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=7)})
PAGES = (("Administrative", "/account"), ("Informational", "/info"), ("ProductRelated", "/product"))
CART_GAP_MS, ORDER_GAP_MS = 20_000, 1_000


def convert(out: Path, source: Path | None = None) -> Conversion:
    path = data_file(source, FOLDER, FILE)
    result = Conversion(source=str(path))
    rows = list(read_csv(path))
    per_month: dict[int, int] = {}
    events: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if any(not (row.get(kind) or "").strip() for kind, _page in PAGES):
            result.skipped["page_counts_missing"] += 1
            continue
        try:
            month, weekend = MONTHS[row["Month"].strip()], row["Weekend"].strip().upper() == "TRUE"
            pages = [(page, int(float(row[kind])), float(row[f"{kind}_Duration"])) for kind, page in PAGES]
            bought, value = row["Revenue"].strip().upper() == "TRUE", max(float(row["PageValues"]), 0.0)
        except (KeyError, ValueError, AttributeError):
            result.skipped["unreadable_row"] += 1
            continue
        if sum(count for _page, count, _duration in pages) <= 0:
            result.skipped["session_without_pages"] += 1
            continue
        if any(duration < 0 for _page, _count, duration in pages):
            result.adjusted["missing_duration_read_as_0"] += 1
        nth = per_month.get(month, 0)
        per_month[month] = nth + 1
        start = _start(month, weekend, nth)
        events.extend(_session(f"os-{index}", start, pages, bought, value))
    events.sort(key=lambda e: e["ts"])  # stable: same-time events keep their order
    for event in events:
        result.events[event["type"]] += 1
    write_log(out, events)
    return result


def _start(month: int, weekend: bool, nth: int) -> int:
    """A made-up start: the nth session of the month on a matching day, spread over the day."""
    days = [
        day
        for day in range(1, calendar.monthrange(YEAR, month)[1] + 1)
        if (datetime(YEAR, month, day, tzinfo=UTC).weekday() >= 5) == weekend
    ]
    day = days[nth % len(days)]
    fraction = (nth * 0.6180339887) % 1.0  # golden-ratio steps fill the day evenly
    return int(datetime(YEAR, month, day, tzinfo=UTC).timestamp() * 1000 + fraction * MS_PER_DAY)


def _session(
    name: str, start: int, pages: list[tuple[str, int, float]], bought: bool, value: float
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    ts, product = start, None

    def click(action: str, page: str, product_id: str | None) -> None:
        event = {
            "type": "click",
            "event_id": f"{name}-{len(events)}",
            "customer_id": name,
            "ts": to_iso(ts),
            "session_id": name,
            "action": action,
            "page": page,
        }
        if product_id is not None:
            event["product_id"] = product_id
        events.append(event)

    elapsed = 0.0  # ms since the start, unrounded, so rounding errors do not add up
    for page, count, duration in pages:
        each = max(duration, 0.0) * 1000 / count if count else 0.0
        for k in range(count):
            product = f"{name}-p{k}" if page == "/product" else None
            click("view", page, product)
            elapsed += each
            ts = start + round(elapsed)
    if bought:
        target = product or f"{name}-p0"
        click("add_to_cart", "/cart", target)
        ts += CART_GAP_MS
        click("checkout", "/checkout", target)
        ts += ORDER_GAP_MS
        events.append(
            {
                "type": "order",
                "event_id": f"{name}-order",
                "customer_id": name,
                "ts": to_iso(ts),
                "order_id": f"{name}-order",
                "amount": round(value, 2),
                "currency": "USD",
                "items": 1,
                "status": "placed",
            }
        )
    return events
