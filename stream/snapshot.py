"""Every customer's scores and state as of one moment, as a CSV (``backtest --snapshot-out``).

Scores at the snapshot account for the time since each customer's last event: recency,
BG/NBD and churn risk are evaluated at the snapshot time, after a BG/NBD and
Gamma-Gamma refit on everything seen up to then. ``anomaly`` belongs to events, not to
moments, so it is empty here.
"""

from __future__ import annotations

import csv
from pathlib import Path

from models.engine import Engine
from models.records import state_view
from models.scores import state_scores

SCORE_COLUMNS = (
    "churn_risk",
    "p_alive",
    "expected_orders_h",
    "p_no_order_h",
    "clv_h",
    "anomaly",
    "recency_days",
    "frequency",
    "monetary",
    "segment",
)
STATE_COLUMNS = ("orders", "spend", "clicks", "sessions", "reviews", "first_order_ts", "last_order_ts", "avg_rating")


def write_snapshot(engine: Engine, at_ts: int, path: Path) -> tuple[int, dict[str, dict[str, float]]]:
    """Write one row per customer first seen at or before ``at_ts``.

    Returns the row count and the value models' parameters used for the snapshot.
    """
    suite = engine.suite
    suite.value.refit(at_ts)
    rows = 0
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("customer_id", *SCORE_COLUMNS, *STATE_COLUMNS))
        for customer_id in sorted(engine.states):
            state = engine.states[customer_id]
            if state.first_seen_ts is None or state.first_seen_ts > at_ts:
                continue
            scores = {
                **state_scores(state, at_ts),
                **suite.value.scores(customer_id, at_ts),
                **suite.scores_at(state, at_ts),
            }
            view = state_view(state)
            writer.writerow(
                (customer_id, *(_cell(scores.get(c)) for c in SCORE_COLUMNS), *(_cell(view[c]) for c in STATE_COLUMNS))
            )
            rows += 1
    return rows, suite.value.describe()


def _cell(value: object) -> object:
    return "" if value is None else value
