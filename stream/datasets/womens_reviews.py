"""Women's E-Commerce Clothing Reviews: 23,486 real reviews of a women's clothing shop.

The source has neither customers nor times, so both are made up, the same on every
run: reviews keep the file's order, one every 30 minutes from 2019-01-01 00:00 UTC;
the customer is drawn from 8,000 synthetic ids (``wr-<n>``) with a Zipf-like weight,
so a few customers write many reviews and most write one or two, as in real shops.

Mapping: one ``review`` per row: ``event_id`` ``womens-<row index>``, ``product_id``
``cloth-<Clothing ID>``, ``rating`` the Rating, ``text`` the Title and the Review Text
joined by ". " (either may be empty).

Skipped, by reason: rows with neither title nor text, and rows whose rating is not 1..5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.eventlog import write_log
from models.timeutil import parse_ts, to_iso
from stream.datasets import Conversion, data_file, read_csv

FOLDER, FILE = "womens_clothing_ecommerce_reviews", "womens_clothing_ecommerce_reviews.csv.gz"
START = parse_ts("2019-01-01T00:00:00Z")
SPACING_MS = 30 * 60 * 1000
CUSTOMERS = 8_000
SEED = 20190101


def convert(out: Path, source: Path | None = None) -> Conversion:
    path = data_file(source, FOLDER, FILE)
    result = Conversion(source=str(path))
    rng = np.random.default_rng(SEED)
    weights = 1.0 / np.arange(1, CUSTOMERS + 1) ** 0.8
    weights /= weights.sum()
    events: list[dict[str, Any]] = []
    for row in read_csv(path):
        title, body = (row.get("Title") or "").strip(), (row.get("Review Text") or "").strip()
        text = ". ".join(part for part in (title, body) if part)
        rating = row.get("Rating", "")
        if not text:
            result.skipped["no_title_or_text"] += 1
            continue
        if rating not in {"1", "2", "3", "4", "5"}:
            result.skipped["rating_not_1_to_5"] += 1
            continue
        customer = int(rng.choice(CUSTOMERS, p=weights))
        events.append(
            {
                "type": "review",
                "event_id": f"womens-{row.get('') or len(events)}",
                "customer_id": f"wr-{customer}",
                "ts": to_iso(START + len(events) * SPACING_MS),
                "product_id": f"cloth-{row.get('Clothing ID', '').strip() or 'unknown'}",
                "rating": int(rating),
                "text": text,
            }
        )
    result.events["review"] = write_log(out, events)
    return result
