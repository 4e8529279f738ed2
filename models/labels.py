"""Delayed labels: scoring snapshots that learn their truth later, in event time.

A snapshot records what a customer looked like and what was predicted at time ``t``.
Its labels become known later:

- churn (``no order within H days``): 0 at the customer's next order inside
  ``(t, t + H]``; 1 once the event-time watermark passes ``t + H`` with none;
- orders and spend in ``(t, t + H]``: counted as orders arrive, final at ``t + H``.

Every snapshot is handed back once, when the watermark passes its deadline, with all
its labels. Learning then rather than at the next order keeps the stream of labels a
model learns from stationary: released early, the "ordered again" answers would reach
the learner weeks before the "did not" answers for the same moment, and an online
learner would chase that drift instead of the signal.

At most ``per_customer`` snapshots are kept per customer and ``max_pending`` in all
(oldest evicted first, counted), so memory is bounded whatever the traffic.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from models.features import PackedFeatures, pack
from models.timeutil import MS_PER_DAY


@dataclass(slots=True)
class Snapshot:
    customer_id: str
    ts: int
    deadline: int
    features: PackedFeatures
    predictions: dict[str, float]
    orders_after: int = 0
    spend_after: float = 0.0

    @property
    def churned(self) -> bool:
        """No order in ``(ts, deadline]``: the churn label."""
        return self.orders_after == 0


@dataclass
class LabelStats:
    taken: int = 0
    resolved_by_order: int = 0
    resolved_by_watermark: int = 0
    evicted: int = 0


@dataclass
class PendingLabels:
    horizon_days: int = 90
    per_customer: int = 16
    max_pending: int = 300_000
    by_customer: dict[str, deque[Snapshot]] = field(default_factory=dict)
    _deadlines: list[tuple[int, int, Snapshot]] = field(default_factory=list)
    _counter: int = 0
    size: int = 0
    stats: LabelStats = field(default_factory=LabelStats)

    @property
    def horizon_ms(self) -> int:
        return self.horizon_days * MS_PER_DAY

    def take(self, customer_id: str, ts: int, features: dict[str, float], predictions: dict[str, float]) -> None:
        snapshot = Snapshot(customer_id, ts, ts + self.horizon_ms, pack(features), dict(predictions))
        pending = self.by_customer.setdefault(customer_id, deque())
        pending.append(snapshot)
        self._counter += 1
        heapq.heappush(self._deadlines, (snapshot.deadline, self._counter, snapshot))
        self.size += 1
        self.stats.taken += 1
        if len(pending) > self.per_customer:
            self._evict(pending.popleft())
        while self.size > self.max_pending:
            self._evict_oldest()

    def on_order(self, customer_id: str, ts: int, amount: float) -> None:
        """A placed order: counts towards every open window; the first one settles churn as 0."""
        for snapshot in self.by_customer.get(customer_id, ()):
            if snapshot.ts < ts <= snapshot.deadline:
                if snapshot.churned:
                    self.stats.resolved_by_order += 1
                snapshot.orders_after += 1
                snapshot.spend_after += amount

    def advance(self, watermark: int) -> Iterator[Snapshot]:
        """Close every window whose deadline the watermark has passed, in deadline order."""
        while self._deadlines and self._deadlines[0][0] <= watermark:
            _deadline, _n, snapshot = heapq.heappop(self._deadlines)
            pending = self.by_customer.get(snapshot.customer_id)
            if not pending or pending[0] is not snapshot:
                continue  # evicted earlier
            pending.popleft()
            if not pending:
                del self.by_customer[snapshot.customer_id]
            self.size -= 1
            if snapshot.churned:
                self.stats.resolved_by_watermark += 1
            yield snapshot

    def forget(self, customer_id: str) -> None:
        """Drop a customer's snapshots and every deadline naming it, stale ones too (erasure)."""
        pending = self.by_customer.pop(customer_id, None)
        self.size -= len(pending or ())
        self._deadlines = [entry for entry in self._deadlines if entry[2].customer_id != customer_id]
        heapq.heapify(self._deadlines)

    def _evict(self, snapshot: Snapshot) -> None:
        # Its heap entry is skipped when it comes due; compact when those pile up.
        self.size -= 1
        self.stats.evicted += 1
        if len(self._deadlines) > 2 * self.size + 1024:
            live = [entry for entry in self._deadlines if self._is_live(entry[2])]
            heapq.heapify(live)
            self._deadlines = live

    def _is_live(self, snapshot: Snapshot) -> bool:
        pending = self.by_customer.get(snapshot.customer_id)
        return pending is not None and any(item is snapshot for item in pending)

    def _evict_oldest(self) -> None:
        while self._deadlines:
            _deadline, _n, snapshot = heapq.heappop(self._deadlines)
            pending = self.by_customer.get(snapshot.customer_id)
            if pending and pending[0] is snapshot:
                pending.popleft()
                if not pending:
                    del self.by_customer[snapshot.customer_id]
                self._evict(snapshot)
                return
