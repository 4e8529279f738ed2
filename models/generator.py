"""A realistic synthetic event log with its ground truth.

Customers follow the BG/NBD story: each buys at its own Poisson rate (Gamma-distributed
across customers) and may drop out for good after any order (Beta-distributed
probability); spend per order varies around a customer's own mean (Gamma-Gamma-like).
Behaviour around a dropout carries signal a model can learn but not read off:
customers about to leave browse less, take more out of their carts and rate their last
orders lower, and after leaving they still browse now and then without buying.

Every order comes out of a browsing session that ends in ``add_to_cart`` and
``checkout``; other sessions end without a purchase. Reviews follow some orders,
in English or Chinese, in a tone that follows the rating. Injected anomalies: huge
orders (10-50x the customer's usual amount, sometimes several in minutes) and bot-like
click bursts (100-400 clicks under a second apart).

``truth`` holds each customer's parameters, whether and when they dropped out, the
high-value flag (top 10% by expected spend) and the ids of every injected anomaly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.jsonio import dumps
from models.review_text import review_text
from models.timeutil import MS_PER_DAY, MS_PER_MINUTE, MS_PER_SECOND, to_iso

CATEGORIES = ("dresses", "tops", "shoes", "bags", "accessories", "outerwear", "beauty", "home")
PRODUCTS = 2000
PRE_CHURN_DAYS = 45


@dataclass(frozen=True)
class GeneratorConfig:
    customers: int = 1000
    days: int = 180
    seed: int = 42
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    anomaly_rate: float = 0.003
    burst_rate: float = 0.002


@dataclass
class _Customer:
    id: str
    rate: float
    p_dropout: float
    mean_spend: float
    satisfaction: float
    chinese: bool
    joined: int
    dropout_ts: int | None = None
    orders: int = 0


@dataclass
class _Log:
    """Events under construction: (ts, seq, event without id), ids given after sorting."""

    rows: list[tuple[int, int, dict[str, Any], str | None]] = field(default_factory=list)

    def add(self, ts: int, event: dict[str, Any], tag: str | None = None) -> None:
        self.rows.append((ts, len(self.rows), event, tag))


def generate(config: GeneratorConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return (events sorted by event time, truth)."""
    rng = np.random.default_rng(config.seed)
    start = int(config.start.timestamp() * 1000)
    end = start + config.days * MS_PER_DAY
    customers = [_draw_customer(rng, index, start, config.days) for index in range(config.customers)]
    log = _Log()
    for customer in customers:
        _simulate(rng, customer, log, end, config)
    return _finish(log, customers, config, end)


def _draw_customer(rng: np.random.Generator, index: int, start: int, days: int) -> _Customer:
    mean_spend = float(rng.gamma(4.0, 15.0))
    if rng.random() < 0.06:
        mean_spend *= float(rng.uniform(4, 8))
    return _Customer(
        id=f"c{index:05d}",
        rate=float(rng.gamma(0.9, 1 / 22)),
        p_dropout=float(rng.beta(1.2, 5.0)),
        mean_spend=mean_spend,
        satisfaction=float(np.clip(rng.normal(4.1, 0.5), 2.5, 5.0)),
        chinese=bool(rng.random() < 0.4),
        joined=start + int(rng.uniform(0, 0.6 * days) * MS_PER_DAY),
    )


def _simulate(rng: np.random.Generator, customer: _Customer, log: _Log, end: int, config: GeneratorConfig) -> None:
    """Orders until dropout (or the end), browsing between them, some browsing after."""
    order_times = [customer.joined]
    while True:
        if rng.random() < customer.p_dropout and len(order_times) > 0 and order_times[-1] > customer.joined:
            customer.dropout_ts = order_times[-1]
            break
        gap = rng.exponential(1 / max(customer.rate, 1e-4)) * MS_PER_DAY
        next_ts = order_times[-1] + int(max(gap, 0.5 * MS_PER_DAY))
        if next_ts >= end:
            break
        order_times.append(next_ts)
    for number, ts in enumerate(order_times):
        leaving = customer.dropout_ts is not None and customer.dropout_ts - ts < PRE_CHURN_DAYS * MS_PER_DAY
        _purchase_session(rng, customer, log, ts, number, leaving, end, config)
    _browsing(rng, customer, log, order_times, end, config)


def _purchase_session(
    rng: np.random.Generator,
    customer: _Customer,
    log: _Log,
    ts: int,
    number: int,
    leaving: bool,
    end: int,
    config: GeneratorConfig,
) -> None:
    session = f"s{customer.id}-o{number}"
    clicks = 1 + int(rng.poisson(1.5))
    t = _clicks(rng, customer, log, session, ts - clicks * 40 * MS_PER_SECOND, clicks, leaving)
    product = _product(rng)
    for action in ("add_to_cart", "checkout"):
        t += int(rng.uniform(10, 90) * MS_PER_SECOND)
        log.add(
            t,
            {
                "type": "click",
                "customer_id": customer.id,
                "session_id": session,
                "action": action,
                "product_id": product,
                "page": f"/{action.replace('_', '-')}",
            },
        )
    t += int(rng.uniform(0.5, 4) * MS_PER_MINUTE)
    order_id = f"o{customer.id}-{number}"
    anomalous = rng.random() < config.anomaly_rate
    amount = _amount(rng, customer.mean_spend * (rng.uniform(10, 50) if anomalous else 1.0))
    items = int(rng.integers(5, 40)) if anomalous else 1 + int(rng.poisson(0.8))
    order = {
        "type": "order",
        "customer_id": customer.id,
        "order_id": order_id,
        "amount": amount,
        "currency": "USD",
        "items": items,
        "category": CATEGORIES[int(product[1:]) % len(CATEGORIES)],
        "status": "placed",
    }
    log.add(t, order, "anomaly" if anomalous else None)
    customer.orders += 1
    if anomalous and rng.random() < 0.5:
        for repeat in range(int(rng.integers(1, 4))):
            t += int(rng.uniform(0.5, 5) * MS_PER_MINUTE)
            log.add(
                t,
                {
                    **order,
                    "order_id": f"{order_id}-x{repeat}",
                    "amount": _amount(rng, customer.mean_spend * rng.uniform(10, 50)),
                },
                "anomaly",
            )
            customer.orders += 1
    _after_order(rng, customer, log, t, order, leaving, end)


def _after_order(
    rng: np.random.Generator, customer: _Customer, log: _Log, t: int, order: dict[str, Any], leaving: bool, end: int
) -> None:
    """Cancellations, refunds and reviews that follow an order."""
    draw = rng.random()
    if draw < 0.02:
        log.add(t + int(rng.uniform(0.05, 2) * MS_PER_DAY), {**order, "status": "cancelled"})
    elif draw < 0.04:
        log.add(t + int(rng.uniform(3, 20) * MS_PER_DAY), {**order, "status": "refunded"})
    if rng.random() < 0.35:
        mood = customer.satisfaction - (1.6 if leaving else 0.0)
        rating = int(np.clip(round(rng.normal(mood, 0.8)), 1, 5))
        when = t + int(rng.uniform(2, 10) * MS_PER_DAY)
        if when < end:
            log.add(
                when,
                {
                    "type": "review",
                    "customer_id": customer.id,
                    "product_id": _product(rng),
                    "rating": rating,
                    "text": review_text(rng, rating, customer.chinese),
                },
            )


def _browsing(
    rng: np.random.Generator, customer: _Customer, log: _Log, order_times: list[int], end: int, config: GeneratorConfig
) -> None:
    """Sessions without a purchase: fewer before a dropout, a trickle after it."""
    t = customer.joined
    count = 0
    while True:
        leaving = customer.dropout_ts is not None and t > customer.dropout_ts - PRE_CHURN_DAYS * MS_PER_DAY
        gone = customer.dropout_ts is not None and t > customer.dropout_ts
        rate = customer.rate * (0.15 if gone else 0.3 if leaving else 0.6) + 0.004
        t += int(rng.exponential(1 / rate) * MS_PER_DAY)
        if t >= end:
            return
        count += 1
        session = f"s{customer.id}-b{count}"
        if rng.random() < config.burst_rate:
            _burst(rng, customer, log, session, t)
        else:
            _clicks(rng, customer, log, session, t, 1 + int(rng.poisson(1.5)), leaving or gone)


def _clicks(
    rng: np.random.Generator, customer: _Customer, log: _Log, session: str, t: int, count: int, leaving: bool
) -> int:
    remove_share = 0.3 if leaving else 0.06
    actions = ("view", "search", "add_to_cart", "remove_from_cart")
    weights = np.array([0.62, 0.2, 0.12, remove_share])
    for _ in range(count):
        action = actions[int(rng.choice(4, p=weights / weights.sum()))]
        log.add(
            t,
            {
                "type": "click",
                "customer_id": customer.id,
                "session_id": session,
                "action": action,
                "product_id": None if action == "search" else _product(rng),
                "page": f"/{action}",
            },
        )
        t += int(rng.uniform(5, 120) * MS_PER_SECOND)
    return t


def _burst(rng: np.random.Generator, customer: _Customer, log: _Log, session: str, t: int) -> None:
    for _ in range(int(rng.integers(100, 401))):
        log.add(
            t,
            {
                "type": "click",
                "customer_id": customer.id,
                "session_id": session,
                "action": "view",
                "product_id": _product(rng),
                "page": "/view",
            },
            "burst",
        )
        t += int(rng.uniform(80, 900))


def _product(rng: np.random.Generator) -> str:
    return f"p{min(int(rng.zipf(1.3)), PRODUCTS) - 1:04d}"


def _amount(rng: np.random.Generator, mean: float) -> float:
    return round(max(1.0, float(rng.gamma(6.0, mean / 6.0))), 2)


def _finish(
    log: _Log, customers: list[_Customer], config: GeneratorConfig, end: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Sort by event time, give ids in that order, and build the truth."""
    rows = sorted((row for row in log.rows if row[0] < end), key=lambda row: (row[0], row[1]))
    events, anomalous_orders, burst_events, burst_sessions = [], [], [], set()
    for number, (ts, _seq, body, tag) in enumerate(rows):
        event_id = f"e{number:08d}"
        events.append(
            {
                "type": body["type"],
                "event_id": event_id,
                "customer_id": body["customer_id"],
                "ts": to_iso(ts),
                **{k: v for k, v in body.items() if k not in ("type", "customer_id")},
            }
        )
        if tag == "anomaly" and body["status"] == "placed":
            anomalous_orders.append(event_id)
        elif tag == "burst":
            burst_events.append(event_id)
            burst_sessions.add(body["session_id"])
    cutoff = float(np.quantile([c.mean_spend * c.rate for c in customers], 0.9)) if customers else 0.0
    truth = {
        "config": {**asdict(config), "start": config.start.isoformat()},
        "customers": {
            c.id: {
                "lambda_per_day": c.rate,
                "p_dropout": c.p_dropout,
                "mean_spend": c.mean_spend,
                "high_value": c.mean_spend * c.rate >= cutoff,
                "joined": to_iso(c.joined),
                "dropout_ts": None if c.dropout_ts is None else to_iso(c.dropout_ts),
                "orders": c.orders,
            }
            for c in customers
        },
        "anomalous_orders": anomalous_orders,
        "anomalous_sessions": sorted(burst_sessions),
        "burst_event_ids": burst_events,
    }
    return events, truth


def write_truth(truth: dict[str, Any], path: Path) -> None:
    path.write_bytes(dumps(truth))
