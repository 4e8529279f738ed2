"""Per-customer totals computed straight from produced events, independently of models.state."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any


def _ms(ts: Any) -> int:
    if isinstance(ts, int):
        return ts
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def expected_states(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Totals per customer: placed orders, net spend, clicks, distinct sessions, reviews."""
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"orders": 0, "spend": 0.0, "clicks": 0, "sessions": set(), "reviews": 0, "ratings": 0, "order_ts": []}
    )
    for event in events:
        row = acc[str(event["customer_id"])]
        if event["type"] == "order":
            if event.get("status", "placed") == "placed":
                row["orders"] += 1
                row["spend"] += event["amount"]
                row["order_ts"].append(_ms(event["ts"]))
            else:
                row["spend"] -= event["amount"]
        elif event["type"] == "click":
            row["clicks"] += 1
            row["sessions"].add(event["session_id"])
        else:
            row["reviews"] += 1
            row["ratings"] += event["rating"]
    return {
        customer: {
            "orders": row["orders"],
            "spend": row["spend"],
            "clicks": row["clicks"],
            "sessions": len(row["sessions"]),
            "reviews": row["reviews"],
            "first_order_ts": _iso(min(row["order_ts"], default=None)),
            "last_order_ts": _iso(max(row["order_ts"], default=None)),
            "avg_rating": row["ratings"] / row["reviews"] if row["reviews"] else None,
        }
        for customer, row in acc.items()
    }


def mismatched_customers(actual: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> list[str]:
    """Customers whose totals differ (or who are missing or extra); money to a cent-fraction."""
    wrong = set(actual) ^ set(expected)
    for customer in set(actual) & set(expected):
        got, want = actual[customer], expected[customer]
        for name, value in want.items():
            if name == "spend":
                same = abs(got[name] - value) <= 1e-6
            elif isinstance(value, float) and isinstance(got[name], float):
                same = abs(got[name] - value) < 1e-9
            else:
                same = got[name] == value
            if not same:
                wrong.add(customer)
    return sorted(wrong)


def assert_states_match(actual: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    """Equal customer sets and totals; money compared to a cent-fraction (float sum order)."""
    assert set(actual) == set(expected), f"customers differ: {len(actual)} vs {len(expected)}"
    wrong = mismatched_customers(actual, expected)
    if wrong:
        detail = "; ".join(f"{c}: got {actual[c]} want {expected[c]}" for c in wrong[:3])
        raise AssertionError(f"{len(wrong)} customers with wrong totals: {detail}")
