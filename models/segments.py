"""RFM segments: where a buyer stands against all buyers, in the groups marketers use.

Each buyer gets three scores from 1 to 5, the quintile of the buyer population they
fall in: R (recency: days since the last order, fewer is better), F (frequency: orders)
and M (monetary: net spend). The quintile cut points come from the census (a uniform
hash sample of buyers taken every 14 days, see ``models.census``), so they describe the
whole population at one moment rather than whoever happened to be active; a sample of
n buyers puts a cut point within about 1/sqrt(n) of its true rank (0.7% at 20,000).

The segment is the first rule that matches, top to bottom:

==================  ==============================  ===================================
segment             rule                            meaning
==================  ==============================  ===================================
champions           R >= 4, F >= 4, M >= 4          bought recently, often, and a lot
loyal               R >= 3, F >= 4                  buy often, not lapsing
new                 R >= 4, one order               first order was recent
promising           R >= 4                          recent, not frequent yet
needs_attention     R = 3                           average recency, drifting
at_risk             R <= 2, F >= 3                  used to buy often, gone quiet
hibernating         R = 2                           quiet, never frequent
lost                R = 1                           longest gone
==================  ==============================  ===================================

Ties matter for F: most shops have many one-order buyers, so several cut points can
equal 1; a value scores one more than the number of cut points strictly below it, so
every one-order buyer gets F = 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.state import CustomerState

SEGMENTS = ("champions", "loyal", "new", "promising", "needs_attention", "at_risk", "hibernating", "lost")
QUINTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class RfmCuts:
    """Quintile cut points of recency (days), frequency (orders) and monetary (spend)."""

    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]
    buyers: int

    @classmethod
    def from_sample(cls, recency: Sequence[float], frequency: Sequence[float], monetary: Sequence[float]) -> RfmCuts:
        def cuts(values: Sequence[float]) -> tuple[float, ...]:
            return tuple(float(q) for q in np.quantile(np.asarray(values, dtype=float), QUINTILES))

        return cls(cuts(recency), cuts(frequency), cuts(monetary), len(recency))

    def scores(self, recency_days: float, orders: int, spend: float) -> tuple[int, int, int]:
        """(R, F, M), each 1 to 5; fewer days since the last order is a higher R."""
        return (
            5 - _rank(recency_days, self.recency, ties_high=True),
            1 + _rank(orders, self.frequency),
            1 + _rank(spend, self.monetary),
        )


def _rank(value: float, cuts: tuple[float, ...], ties_high: bool = False) -> int:
    """How many cut points lie below ``value`` (or at it, with ``ties_high``)."""
    return sum(1 for cut in cuts if (cut <= value if ties_high else cut < value))


def segment(r: int, f: int, m: int, orders: int) -> str:
    """The first matching rule of the table in the module docstring.

    >>> segment(5, 5, 5, 12), segment(5, 1, 2, 1), segment(1, 4, 3, 6), segment(1, 1, 1, 1)
    ('champions', 'new', 'at_risk', 'lost')
    """
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal"
    if r >= 4:
        return "new" if orders == 1 else "promising"
    if r == 3:
        return "needs_attention"
    if f >= 3:
        return "at_risk"
    return "hibernating" if r == 2 else "lost"


def customer_segment(cuts: RfmCuts | None, state: CustomerState, now_ts: int) -> str | None:
    """The buyer's segment as of ``now_ts``; ``None`` for non-buyers or before the first census."""
    recency = state.days_since_last_order(now_ts)
    if cuts is None or recency is None:
        return None
    r, f, m = cuts.scores(recency, state.orders, state.spend)
    return segment(r, f, m, state.orders)
