"""Model inputs built from a customer's state at an event time, and their readable form.

Features are plain ``dict[str, float]`` (River's input). Heavy-tailed figures are
log-transformed so a standard scaler and a linear model treat them sensibly.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable

from models.events import Click, Order
from models.state import SESSION_ACTIONS, CustomerState
from models.timeutil import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE

NEUTRAL_RATING = 4.0


def churn_features(state: CustomerState, now_ts: int) -> dict[str, float]:
    """Recency, frequency, value, gaps, browsing and satisfaction as of ``now_ts``."""
    first = state.first_seen_ts if state.first_seen_ts is not None else now_ts
    tenure = max(0.0, (now_ts - first) / MS_PER_DAY)
    since_order = state.days_since_last_order(now_ts)
    since = tenure if since_order is None else since_order
    usual = state.usual_gap_days or max(tenure / max(state.orders, 1), 1.0)
    clicks, sessions, removes = state.rates_at(now_ts)
    return {
        "days_since_last_order": since,
        "usual_gap_days": usual,
        "gap_ratio": since / max(usual, 1.0),
        "log_orders": math.log1p(state.orders),
        "tenure_days": tenure,
        "log_avg_order_value": math.log1p(max(state.spend, 0.0) / state.orders) if state.orders else 0.0,
        "recent_clicks": clicks,
        "recent_sessions": sessions,
        "cart_removal_share": removes / clicks if clicks > 1e-9 else 0.0,
        "rating_trend": (state.rating_ewm if state.rating_ewm is not None else NEUTRAL_RATING) - NEUTRAL_RATING,
        "return_share": state.returns / max(state.orders, 1),
    }


def order_anomaly_features(state: CustomerState, order: Order, typical_amount: float) -> dict[str, float]:
    """An order against the customer's own history, taken before the order is applied."""
    usual = max(state.spend, 0.0) / state.orders if state.orders else typical_amount
    hours = (order.ts - state.last_order_ts) / MS_PER_HOUR if state.last_order_ts is not None else 24.0 * 365
    return {
        "amount_vs_usual": math.log((order.amount + 1.0) / (max(usual, 0.0) + 1.0)),
        "log_items": math.log1p(order.items),
        "log_hours_since_last_order": math.log1p(max(hours, 0.0)),
        "orders_last_hour": float(state.orders_since(order.ts - MS_PER_HOUR)),
    }


def click_burst_features(state: CustomerState, click: Click) -> dict[str, float]:
    """How fast and how long the session around this click is, taken after it is applied."""
    start = state.session_start_ts if state.session_start_ts is not None else click.ts
    # A 5-second floor: two human clicks rarely come faster, a bot's second click does.
    minutes = max((click.ts - start) / MS_PER_MINUTE, 5 / 60)
    return {
        "log_session_clicks": math.log1p(state.session_clicks),
        "log_clicks_per_minute": math.log1p(state.session_clicks / minutes),
    }


#: The session feature of each click action: ``log_views``, ``log_add_to_carts``, ...
_ACTION_FEATURES = tuple(f"log_{action}s" for action in SESSION_ACTIONS)


def session_features(state: CustomerState, ts: int) -> dict[str, float]:
    """The current session so far and the customer's history, after the click at ``ts``.

    Time of day is UTC (the events carry no zone of the shopper), as a point on a circle
    so 23:00 sits next to 00:00.
    """
    start = state.session_start_ts if state.session_start_ts is not None else ts
    hour = (ts % MS_PER_DAY) / MS_PER_HOUR
    since_order = state.days_since_last_order(ts)
    x = {name: math.log1p(count) for name, count in zip(_ACTION_FEATURES, state.session_actions, strict=True)}
    x.update(
        log_session_clicks=math.log1p(state.session_clicks),
        log_product_views=math.log1p(state.session_product_views),
        log_distinct_products=math.log1p(state.distinct_products),
        log_session_minutes=math.log1p(max(ts - start, 0) / MS_PER_MINUTE),
        log_product_minutes=math.log1p(state.session_dwell_ms / MS_PER_MINUTE),
        hour_sin=math.sin(2 * math.pi * hour / 24),
        hour_cos=math.cos(2 * math.pi * hour / 24),
        log_past_orders=math.log1p(state.orders),
        log_past_sessions=math.log1p(max(state.sessions - 1, 0)),
        orders_per_session=min(state.orders / max(state.sessions - 1, 1), 1.0),
        log_days_since_last_order=math.log1p(since_order) if since_order is not None else -1.0,
    )
    return x


_REASONS: dict[str, Callable[[dict[str, float]], str]] = {
    "days_since_last_order": lambda f: (
        f"days_since_last_order={f['days_since_last_order']:.0f} (usual gap {f['usual_gap_days']:.0f})"
    ),
    "usual_gap_days": lambda f: f"usual_gap_days={f['usual_gap_days']:.0f}",
    "gap_ratio": lambda f: (
        f"days_since_last_order={f['days_since_last_order']:.0f} is {f['gap_ratio']:.1f}x the usual gap"
    ),
    "log_orders": lambda f: f"orders={math.expm1(f['log_orders']):.0f}",
    "tenure_days": lambda f: f"customer_for_days={f['tenure_days']:.0f}",
    "log_avg_order_value": lambda f: f"avg_order_value=${math.expm1(f['log_avg_order_value']):.0f}",
    "recent_clicks": lambda f: f"recent_clicks={f['recent_clicks']:.1f} (14-day decayed)",
    "recent_sessions": lambda f: f"recent_sessions={f['recent_sessions']:.1f} (14-day decayed)",
    "cart_removal_share": lambda f: f"cart_removals={100 * f['cart_removal_share']:.0f}% of recent clicks",
    "rating_trend": lambda f: f"recent_rating={f['rating_trend'] + NEUTRAL_RATING:.1f}",
    "return_share": lambda f: f"returned_or_cancelled={100 * f['return_share']:.0f}% of orders",
    "p_alive": lambda f: f"p_alive={f['p_alive']:.2f}",
    "p_alive_logit": lambda f: f"p_alive={1 / (1 + math.exp(-f['p_alive_logit'])):.2f}",
    "bgnbd_no_order_logit": lambda f: f"bgnbd_p_no_order={1 / (1 + math.exp(-f['bgnbd_no_order_logit'])):.2f}",
    "bgnbd_poisson_no_order_logit": lambda f: (
        f"expected_orders={-math.log(1 / (1 + math.exp(-f['bgnbd_poisson_no_order_logit']))):.2f}"
    ),
    "expected_orders_h": lambda f: f"expected_orders={f['expected_orders_h']:.2f} in the horizon",
}


def describe(feature: str, features: dict[str, float]) -> str:
    """A short readable reason for ``feature``, e.g. ``days_since_last_order=63 (usual gap 14)``."""
    if feature not in features:
        return f"{feature}=n/a"
    render = _REASONS.get(feature)
    try:
        return render(features) if render else f"{feature}={features[feature]:.3g}"
    except KeyError:  # a reason that needs a companion feature the caller did not pass
        return f"{feature}={features[feature]:.3g}"


#: Feature names and their values as C doubles: a tenth of a dict's memory.
PackedFeatures = tuple[tuple[str, ...], array]
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def pack(x: dict[str, float]) -> PackedFeatures:
    """``x`` compact for keeping: one shared tuple of names per feature set, values in an array.

    Open sessions and pending labels hold hundreds of thousands of feature sets; as dicts
    they were most of a worker's memory. Values round-trip exactly (doubles in, doubles out).
    """
    return shared_names(x), array("d", x.values())


def shared_names(x: dict[str, float]) -> tuple[str, ...]:
    """``x``'s names as the one tuple kept for that feature set (compared by identity)."""
    names = tuple(x)
    return _NAMES.setdefault(names, names)


def unpack(packed: PackedFeatures) -> dict[str, float]:
    """The feature dict again, in its original order."""
    names, values = packed
    return dict(zip(names, values, strict=True))
