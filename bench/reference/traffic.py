"""Generated traffic: 75% clicks in 30-minute sessions, 20% orders, 5% reviews.

Customers are drawn uniformly from ``customers`` ids (``c000000``, ...), the same mix
``bench/soak.py`` sends. Event time comes from ``clock(n)`` for the n-th event: the
wall clock for a latency run, an even spread over some days of event time for a
throughput run (so the models warm up, fit and learn as they would in production).
Everything else is seeded, so the same arguments give the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import models.numerics  # noqa: F401  (pins numpy's CPU dispatch: before numpy loads)

import numpy as np

from models.jsonio import dumps
from models.timeutil import MS_PER_DAY, MS_PER_MINUTE, now_ms

#: Input topic (without prefix) -> share of the events.
MIX = {"clicks": 0.75, "orders": 0.20, "reviews": 0.05}
START_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
SESSION_MS = 30 * MS_PER_MINUTE
REVIEW_TEXTS = {
    5: "love it, great quality and fast delivery",
    4: "good value, would buy again",
    2: "disappointed, the fabric feels cheap",
    1: "terrible, broke after one day, want a refund",
}
ACTIONS = ("view", "view", "view", "search", "add_to_cart", "checkout")


def wall_clock(_number: int) -> int:
    return now_ms()


def spread(count: int, days: float, start_ms: int = START_MS) -> Callable[[int], int]:
    """Event time of the n-th of ``count`` events, evenly over ``days`` from ``start_ms``."""
    step = days * MS_PER_DAY / max(1, count)
    return lambda number: start_ms + int(number * step)


def events(
    customers: int, seed: int, clock: Callable[[int], int] = wall_clock, id_prefix: str = "e"
) -> Iterator[tuple[str, bytes, bytes]]:
    """An endless stream of ``(input topic without prefix, key, JSON value)``, keyed by customer id."""
    rng = np.random.default_rng(seed)
    topics = list(MIX)
    shares = list(MIX.values())
    number = 0
    while True:
        picks = rng.integers(0, customers, 1000)
        kinds = rng.choice(len(topics), 1000, p=shares)
        amounts = np.round(rng.lognormal(3.5, 0.6, 1000), 2)
        ratings = rng.choice([1, 2, 4, 5], 1000, p=[0.1, 0.1, 0.3, 0.5])
        actions = rng.integers(0, len(ACTIONS), 1000)
        for pick, kind, amount, rating, action in zip(picks, kinds, amounts, ratings, actions, strict=True):
            ts = clock(number)
            customer = f"c{pick:06d}"
            event: dict = {"event_id": f"{id_prefix}{number}", "customer_id": customer, "ts": ts}
            topic = topics[kind]
            if topic == "orders":
                event |= {"order_id": f"o{id_prefix}{number}", "amount": float(amount), "items": 1 + number % 3}
            elif topic == "clicks":
                event |= {"session_id": f"s{customer}-{ts // SESSION_MS}", "action": ACTIONS[action]}
                event["product_id"] = f"p{number % 500}"
            else:
                event |= {"product_id": f"p{number % 500}", "rating": int(rating), "text": REVIEW_TEXTS[int(rating)]}
            number += 1
            yield topic, customer.encode(), dumps(event)
