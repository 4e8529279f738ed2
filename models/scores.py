"""Scores derived from a customer's state alone: recency, frequency, monetary value."""

from __future__ import annotations

from typing import Any

from models.state import CustomerState


def state_scores(state: CustomerState, now_ts: int) -> dict[str, Any]:
    """RFM figures as of event time ``now_ts``.

    >>> from models.state import CustomerState
    >>> state_scores(CustomerState("c1"), 0)
    {'recency_days': None, 'frequency': 0, 'monetary': None}
    """
    recency = state.days_since_last_order(now_ts)
    return {
        "recency_days": None if recency is None else round(recency, 4),
        "frequency": state.orders,
        "monetary": round(state.spend / state.orders, 2) if state.orders else None,
    }
