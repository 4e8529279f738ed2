"""Customer value in the stream: BG/NBD orders, Gamma-Gamma spend, CLV over the horizon.

An order book keeps, per customer, what the two models need (first and last order
time, distinct order days, spend). Both models are refit from the whole book every
``refit_every_ms`` of event time, warm-started from the last fit. Refits happen at
event-time boundaries, not on a wall-clock timer, so a backtest and a worker fed the
same log refit at the same points and give the same scores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from models import bgnbd, gammagamma
from models.bgnbd import BGNBDParams
from models.gammagamma import GammaGammaParams
from models.timeutil import MS_PER_DAY

log = logging.getLogger(__name__)

MAX_CACHED = 200_000


@dataclass(slots=True)
class BookEntry:
    first_ts: int
    last_ts: int
    days: int
    spend: float
    orders: int


@dataclass
class CustomerValue:
    horizon_days: int = 90
    refit_every_ms: int = 7 * MS_PER_DAY
    min_customers: int = 200
    #: A first fit on a few days of history is noise; wait for this much event time.
    min_history_ms: int = 60 * MS_PER_DAY
    book: dict[str, BookEntry] = field(default_factory=dict)
    params: BGNBDParams | None = None
    spend_params: GammaGammaParams | None = None
    next_fit_ts: int | None = None
    fits: int = 0
    last_notes: str = ""
    #: BG/NBD answers by (repeat days, t_x, T) on the daily grid, for the current params.
    #: A customer's figures change once a day at most, while its clicks come by the
    #: dozen; cleared on every refit, so a cached answer is always the one computed now.
    _bgnbd_cache: dict[tuple[int, int, int], tuple[float, float, float]] = field(default_factory=dict, repr=False)

    def on_order(self, customer_id: str, ts: int, amount: float) -> None:
        """Record a placed order (one BG/NBD purchase per customer-day)."""
        entry = self.book.get(customer_id)
        if entry is None:
            self.book[customer_id] = BookEntry(ts, ts, 1, amount, 1)
            return
        if ts // MS_PER_DAY != entry.last_ts // MS_PER_DAY and ts > entry.last_ts:
            entry.days += 1
        entry.last_ts = max(entry.last_ts, ts)
        entry.spend += amount
        entry.orders += 1

    def forget(self, customer_id: str) -> None:
        self.book.pop(customer_id, None)

    def maybe_refit(self, watermark: int) -> None:
        """Refit when the watermark crosses the next scheduled event time."""
        if self.next_fit_ts is None:
            self.next_fit_ts = watermark + self.refit_every_ms
            return
        if watermark >= self.next_fit_ts:
            self.refit(watermark)
            self.next_fit_ts = watermark + self.refit_every_ms

    def refit(self, now_ts: int) -> None:
        if len(self.book) < self.min_customers:
            return
        oldest = min(entry.first_ts for entry in self.book.values())
        if now_ts - oldest < self.min_history_ms:
            return
        x, t_x, T, mean_value = self._arrays(now_ts, whole_days=True)
        result = bgnbd.fit(x, t_x, T, init=self.params)
        if np.all(np.isfinite(result.params.as_array())):
            self.params = result.params
            self._bgnbd_cache.clear()
        spend = gammagamma.fit(x, mean_value, init=self.spend_params)
        if spend.n_customers >= self.min_customers and spend.params.q > 1:
            self.spend_params = spend.params
        self.fits += 1
        if result.notes != self.last_notes:
            # Warn when a fit first leaves the interior optimum; later refits say it at info.
            was_interior = self.last_notes in ("", "interior optimum")
            report = log.warning if result.notes != "interior optimum" and was_interior else log.info
            report("BG/NBD refit on %d customers: %s (%s)", result.n_customers, result.params, result.notes)
            self.last_notes = result.notes

    def _bgnbd(self, x: int, t_x: int, T: int) -> tuple[float, float, float]:
        """P(alive), expected orders and P(no order) over the horizon, computed once per grid point."""
        key = (x, t_x, T)
        cached = self._bgnbd_cache.get(key)
        if cached is not None:
            return cached
        assert self.params is not None
        h = float(self.horizon_days)
        alive, expected, no_order = bgnbd.outlook_one(self.params, h, x, t_x, T)
        if len(self._bgnbd_cache) >= MAX_CACHED:
            self._bgnbd_cache.clear()
        self._bgnbd_cache[key] = (alive, expected, no_order)
        return alive, expected, no_order

    def _arrays(self, now_ts: int, whole_days: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        entries = list(self.book.values())
        first = np.array([e.first_ts for e in entries], dtype=float)
        last = np.array([e.last_ts for e in entries], dtype=float)
        x = np.array([e.days - 1 for e in entries], dtype=float)
        mean_value = np.array([e.spend / e.orders for e in entries], dtype=float)
        t_x, T = (last - first) / MS_PER_DAY, np.maximum(now_ts - first, 0) / MS_PER_DAY
        if whole_days:  # like a daily table: identical customers compress into one row
            t_x, T = np.floor(t_x), np.floor(T)
        return x, t_x, np.maximum(T, t_x), mean_value

    def describe(self) -> dict[str, dict[str, float]]:
        """Current parameters of both models (empty before the first fit)."""
        out = {}
        if self.params is not None:
            out["bgnbd"] = {name: float(getattr(self.params, name)) for name in ("r", "alpha", "a", "b")}
        if self.spend_params is not None:
            out["gamma_gamma"] = {name: float(getattr(self.spend_params, name)) for name in ("p", "q", "v")}
        return out

    def scores(self, customer_id: str, now_ts: int) -> dict[str, float]:
        """p_alive, expected orders and P(no order) over the horizon, CLV; empty before the first fit."""
        entry = self.book.get(customer_id)
        if entry is None or self.params is None:
            return {}
        # The same daily grid the models were fit on.
        x = entry.days - 1
        t_x = (entry.last_ts - entry.first_ts) // MS_PER_DAY
        T = max((now_ts - entry.first_ts) // MS_PER_DAY, t_x)
        alive, expected, no_order = self._bgnbd(x, t_x, T)
        out = {"p_alive": alive, "expected_orders_h": expected, "p_no_order_h": no_order}
        mean_value = entry.spend / entry.orders
        if self.spend_params is not None and x >= 1:
            value = gammagamma.average_value_one(self.spend_params, x, mean_value)
        else:
            value = mean_value
        out["clv_h"] = expected * max(value, 0.0)
        return out
