"""Olist (Brazil): a 4,000-order sample with customers, items, payments and reviews.

Licence CC BY-NC-SA 4.0: non-commercial use only (we use it in tests and benchmarks).

Mapping (times are Brazil's wall clock, read as UTC-03:00):
- one ``order`` per order: ``event_id`` ``olist-order-<order_id>``, ``customer_id`` the
  person key ``customer_unique_id`` (Olist's ``customer_id`` is per order), ``ts`` the
  purchase time, ``amount`` the sum of its payments in BRL (the item prices plus freight
  when it has no payment), ``items`` its item count, ``category`` the first item's
  category in English;
- an order the shop ``canceled`` or found ``unavailable`` is followed by a
  ``cancelled`` order for the same amount, at its approval time (or one minute after
  the purchase when it was never approved);
- one ``review`` per review, joined to its order's customer: ``event_id``
  ``olist-review-<review_id>``, ``ts`` the review's creation date (midnight of the day),
  ``product_id`` the order's first item, ``rating`` the score, ``text`` title and message
  joined by ". " (Portuguese; empty for most reviews).

Skipped, by reason: orders without a customer or purchase time, orders with neither
payments nor items, and reviews of an order that was skipped or not in the sample.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from models.eventlog import write_log
from models.timeutil import to_iso
from stream.datasets import Conversion, data_file, read_csv

FOLDER = "olist_brazilian_ecommerce_sample"
BRAZIL = timezone(timedelta(hours=-3))
CANCELLED = {"canceled", "unavailable"}


def convert(out: Path, source: Path | None = None) -> Conversion:
    """``source`` is the folder holding Olist's CSV files (plain or gzip)."""
    orders = "olist_orders_dataset.csv.gz"
    folder = data_file(source / orders if source else None, FOLDER, orders).parent
    result = Conversion(source=str(folder))
    table = {name: list(read_csv(data_file(folder / f"olist_{name}_dataset.csv.gz", FOLDER, ""))) for name in _TABLES}
    translation = {
        row["product_category_name"]: row["product_category_name_english"]
        for row in read_csv(data_file(folder / "product_category_name_translation.csv.gz", FOLDER, ""))
    }
    people = {row["customer_id"]: row["customer_unique_id"] for row in table["customers"]}
    categories = {row["product_id"]: row["product_category_name"] for row in table["products"]}
    paid: defaultdict[str, float] = defaultdict(float)
    for row in table["order_payments"]:
        paid[row["order_id"]] += float(row["payment_value"] or 0)
    items: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    for row in sorted(table["order_items"], key=lambda r: (r["order_id"], int(r["order_item_id"] or 0))):
        items[row["order_id"]].append(row)

    events: list[dict[str, Any]] = []
    known: dict[str, tuple[str, str | None]] = {}  # order -> (person, first product)
    for row in table["orders"]:
        order = _order(row, people, paid, items, categories, translation, result)
        if order is not None:
            events.extend(order)
            first = items[row["order_id"]][0]["product_id"] if items[row["order_id"]] else None
            known[row["order_id"]] = (order[0]["customer_id"], first)
    for row in table["order_reviews"]:
        review = _review(row, known, result)
        if review is not None:
            events.append(review)
    events.sort(key=lambda e: e["ts"])  # stable: same-time events keep their order
    for event in events:
        result.events[event["type"] if event["type"] != "order" else f"order_{event['status']}"] += 1
    write_log(out, events)
    return result


_TABLES = ("orders", "customers", "order_items", "order_payments", "order_reviews", "products")


def _order(
    row: dict[str, str],
    people: dict[str, str],
    paid: dict[str, float],
    items: dict[str, list[dict[str, str]]],
    categories: dict[str, str],
    translation: dict[str, str],
    result: Conversion,
) -> list[dict[str, Any]] | None:
    order_id, person = row["order_id"], people.get(row["customer_id"])
    ts = _ts(row["order_purchase_timestamp"])
    if person is None or ts is None:
        result.skipped["order_without_customer_or_time"] += 1
        return None
    lines = items.get(order_id, [])
    amount = paid.get(order_id)
    if amount is None:
        if not lines:
            result.skipped["order_without_payment_or_items"] += 1
            return None
        amount = sum(float(line["price"] or 0) + float(line["freight_value"] or 0) for line in lines)
        result.adjusted["amount_from_items"] += 1
    order: dict[str, Any] = {
        "type": "order",
        "event_id": f"olist-order-{order_id}",
        "customer_id": person,
        "ts": to_iso(ts),
        "order_id": order_id,
        "amount": round(amount, 2),
        "currency": "BRL",
        "items": max(1, len(lines)),
        "status": "placed",
    }
    category = categories.get(lines[0]["product_id"]) if lines else None
    if category:
        order["category"] = translation.get(category, category)
    if row["order_status"] not in CANCELLED:
        return [order]
    cancelled_at = _ts(row["order_approved_at"]) or ts + 60_000
    cancel_ts = to_iso(max(cancelled_at, ts))
    cancel = {**order, "event_id": f"olist-cancel-{order_id}", "ts": cancel_ts, "status": "cancelled"}
    return [order, cancel]


def _review(row: dict[str, str], known: dict[str, tuple[str, str | None]], result: Conversion) -> dict[str, Any] | None:
    order = known.get(row["order_id"])
    ts = _ts(row["review_creation_date"])
    rating = row["review_score"].strip()
    if order is None:
        result.skipped["review_of_unknown_order"] += 1
        return None
    if ts is None or rating not in {"1", "2", "3", "4", "5"}:
        result.skipped["review_without_time_or_score"] += 1
        return None
    person, product = order
    text = ". ".join(p.strip() for p in (row["review_comment_title"], row["review_comment_message"]) if p and p.strip())
    review: dict[str, Any] = {
        "type": "review",
        "event_id": f"olist-review-{row['review_id']}-{row['order_id']}",
        "customer_id": person,
        "ts": to_iso(ts),
        "product_id": product or f"order-{row['order_id']}",
        "rating": int(rating),
        "text": text,
    }
    return review


def _ts(text: str | None) -> int | None:
    if not text:
        return None
    try:
        moment = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BRAZIL)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)
