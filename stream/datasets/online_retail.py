"""UCI Online Retail: every line item of a UK gift-ware shop, 2010-12-01 to 2011-12-09.

Mapping: the line items of one invoice make one ``order``: ``order_id`` and ``event_id``
``retail-<InvoiceNo>``, ``customer_id`` the CustomerID, ``ts`` the InvoiceDate (the
shop's wall-clock time, read as UTC: the source has no zone, so summer times are an
hour late), ``amount`` the sum of Quantity x UnitPrice in GBP (postage, fees and other
non-product lines included: the customer paid them), ``items`` the sum of quantities.
An invoice numbered ``C...`` is a cancellation: a ``cancelled`` order whose amount is
the money taken back (the source does not say which invoice it cancels).

Skipped, by reason: lines without a CustomerID (guests; about a quarter of the file),
unreadable lines, and invoices whose total is zero or has the wrong sign (price
adjustments and free samples are not purchases).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.eventlog import write_log
from models.timeutil import to_iso
from stream.datasets import Conversion, data_file, read_csv

FOLDER, FILE = "uci_online_retail", "online_retail.csv.gz"


@dataclass
class _Invoice:
    customer: str
    ts: int
    amount: float = 0.0
    items: int = 0


def convert(out: Path, source: Path | None = None) -> Conversion:
    path = data_file(source, FOLDER, FILE)
    result = Conversion(source=str(path))
    invoices: dict[str, _Invoice] = {}
    for row in read_csv(path):
        customer = (row.get("CustomerID") or "").strip()
        if not customer:
            result.skipped["line_without_customer_id"] += 1
            continue
        try:
            number = row["InvoiceNo"].strip()
            quantity, price = int(row["Quantity"]), float(row["UnitPrice"])
            ts = int(datetime.strptime(row["InvoiceDate"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() * 1000)
        except (KeyError, ValueError, AttributeError):
            result.skipped["unreadable_line"] += 1
            continue
        invoice = invoices.setdefault(number, _Invoice(customer, ts))
        invoice.amount += quantity * price
        invoice.items += abs(quantity)
    events = [_order(number, invoice, result) for number, invoice in invoices.items()]
    orders = sorted((e for e in events if e is not None), key=lambda e: (e["ts"], e["order_id"]))
    for event in orders:
        result.events[f"order_{event['status']}"] += 1
    write_log(out, orders)
    return result


def _order(number: str, invoice: _Invoice, result: Conversion) -> dict[str, Any] | None:
    cancelled = number.upper().startswith("C")
    amount = round(-invoice.amount if cancelled else invoice.amount, 2)
    if amount <= 0:
        result.skipped["invoice_total_not_positive"] += 1
        return None
    return {
        "type": "order",
        "event_id": f"retail-{number}",
        "customer_id": invoice.customer,
        "ts": to_iso(invoice.ts),
        "order_id": f"retail-{number}",
        "amount": amount,
        "currency": "GBP",
        "items": max(1, invoice.items),
        "status": "cancelled" if cancelled else "placed",
    }
