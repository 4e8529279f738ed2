"""Purchase propensity: P(this session ends in an order), scored at every click.

A session is labelled when it closes: 1 as soon as the customer places an order while the
session is open (its last click at most ``gap_ms`` before the order), 0 once the
event-time watermark passes ``gap_ms`` (30 minutes) after its last click without one. A
checkout click needs no rule of its own: its order, if any, arrives within the gap.

The model learns from a few snapshots per session, at clicks 1, 2, 3, 4, 6, 8, 12, 16,
24, ... (about two per doubling), all with the session's label and together with the
weight of one session. So it learns what early clicks say as well as late ones, and
every session counts once, whatever its length: with equal weights per snapshot, long
sessions outvote short ones and the model's ROC AUC on real sessions (UCI Online
Shoppers, bench/propensity_shoppers.py) drops from 0.669 to 0.632. Open sessions are
capped (oldest closed as unlabelled first), so memory is bounded whatever the traffic.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from models.features import shared_names
from models.linear import OnlineLogit
from models.timeutil import MS_PER_MINUTE

SESSION_GAP_MS = 30 * MS_PER_MINUTE


def is_sample_point(click_number: int) -> bool:
    """Clicks 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, ...: powers of two and 1.5 times them.

    >>> [n for n in range(1, 40) if is_sample_point(n)]
    [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]
    """
    power = 1 << (click_number.bit_length() - 1)
    return click_number in (power, power + power // 2)


@dataclass(slots=True)
class OpenSession:
    """A session waiting for its label, with the snapshots it will teach.

    The snapshots sit in one array of doubles, a row each: the score published with it
    (NaN while the model was cold and published none), then the features named by
    ``names``. Hundreds of thousands of them wait at once; as tuples of a feature array
    and a score they took twice the memory.
    """

    customer_id: str
    session_id: str
    last_click_ts: int
    names: tuple[str, ...] = ()
    rows: array = field(default_factory=lambda: array("d"))

    def add_sample(self, x: dict[str, float], score: float | None) -> None:
        names = shared_names(x)
        if names is not self.names:
            # Equal but not the same after a checkpoint is loaded: the shared tuple is adopted.
            if self.names and names != self.names:
                raise ValueError(f"session features changed from {self.names} to {names}")
            self.names = names
        self.rows.append(math.nan if score is None else score)
        self.rows.extend(x.values())

    @property
    def sample_count(self) -> int:
        return len(self.rows) // (len(self.names) + 1)

    def samples(self) -> Iterator[tuple[array, float | None]]:
        """Each snapshot's feature values (in ``names`` order) and published score (``None`` if none)."""
        width = len(self.names) + 1
        for start in range(0, len(self.rows), width):
            score = self.rows[start]
            yield self.rows[start + 1 : start + width], None if math.isnan(score) else score


@dataclass
class OpenSessions:
    """Sessions waiting for their label, by customer, with their closing deadlines."""

    gap_ms: int = SESSION_GAP_MS
    max_open: int = 200_000
    by_customer: dict[str, dict[str, OpenSession]] = field(default_factory=dict)
    _deadlines: list[tuple[int, str, str]] = field(default_factory=list)
    size: int = 0
    dropped: int = 0

    def on_click(
        self, customer_id: str, session_id: str, ts: int, click_number: int, x: dict[str, float], score: float | None
    ) -> None:
        """Keep the session open until ``ts + gap``; record the sample at sampled clicks."""
        sessions = self.by_customer.setdefault(customer_id, {})
        session = sessions.get(session_id)
        if session is None:
            session = sessions[session_id] = OpenSession(customer_id, session_id, ts)
            self.size += 1
            # One heap entry per session; a later click moves it when it comes up.
            heapq.heappush(self._deadlines, (ts + self.gap_ms, customer_id, session_id))
        session.last_click_ts = max(session.last_click_ts, ts)
        if is_sample_point(click_number):
            session.add_sample(x, score)
        while self.size > self.max_open:
            self._drop_oldest()

    def on_order(self, customer_id: str, ts: int) -> Iterator[tuple[OpenSession, bool]]:
        """Close every open session of the customer that this order ends, labelled 1.

        Its heap entry stays behind and is skipped when it comes up; it comes up only
        once the watermark (event time less the label lateness) passes the session's
        deadline, so with 20% orders stale entries would outnumber open sessions several
        times over. When they pile up, the heap is rebuilt from the open sessions.
        """
        sessions = self.by_customer.get(customer_id, {})
        for session_id, session in list(sessions.items()):
            if ts <= session.last_click_ts + self.gap_ms:
                yield self._close(customer_id, session_id), True
        if len(self._deadlines) > 2 * self.size + 1024:
            self._compact()

    def _compact(self) -> None:
        """One heap entry per open session, at its current deadline (the strings its keys hold).

        Sessions close in the same order as with the stale entries: a session closes when
        an entry at its true deadline comes up, and entries order by (deadline, customer,
        session) either way.
        """
        self._deadlines = [
            (session.last_click_ts + self.gap_ms, customer_id, session_id)
            for customer_id, sessions in self.by_customer.items()
            for session_id, session in sessions.items()
        ]
        heapq.heapify(self._deadlines)

    def advance(self, watermark: int) -> Iterator[tuple[OpenSession, bool]]:
        """Close, labelled 0, every session whose last click is more than the gap behind."""
        while self._deadlines and self._deadlines[0][0] <= watermark:
            session = self._pop_due()
            if session is not None:
                yield session, False

    def _pop_due(self) -> OpenSession | None:
        """Close the session at the top of the heap, or move it to its later deadline."""
        _deadline, customer_id, session_id = heapq.heappop(self._deadlines)
        session = self.by_customer.get(customer_id, {}).get(session_id)
        if session is None:
            return None  # closed by an order
        if session.last_click_ts + self.gap_ms > _deadline:
            heapq.heappush(self._deadlines, (session.last_click_ts + self.gap_ms, customer_id, session_id))
            return None
        return self._close(customer_id, session_id)

    def _close(self, customer_id: str, session_id: str) -> OpenSession:
        sessions = self.by_customer[customer_id]
        session = sessions.pop(session_id)
        if not sessions:
            del self.by_customer[customer_id]
        self.size -= 1
        return session

    def sample_count(self) -> int:
        """Samples held by all open sessions (a full pass: for gauges, not per event)."""
        return sum(session.sample_count for sessions in self.by_customer.values() for session in sessions.values())

    def forget(self, customer_id: str) -> None:
        """Drop a customer's open sessions and every deadline naming it, stale ones too (erasure)."""
        sessions = self.by_customer.pop(customer_id, None)
        self.size -= len(sessions or ())
        self._deadlines = [entry for entry in self._deadlines if entry[1] != customer_id]
        heapq.heapify(self._deadlines)

    def _drop_oldest(self) -> None:
        while self._deadlines:
            if self._pop_due() is not None:
                self.dropped += 1
                return


class PropensityModel:
    """Online logistic regression on session features; ``None`` until warm.

    River's scaler and logistic regression, on lists (``models/linear.py``): the model
    learns several snapshots of every closed session and scores every click.

    >>> model = PropensityModel(warm_up=4)
    >>> for carts, label in [(0.0, 0), (1.0, 1)] * 200:
    ...     model.learn_one({"log_add_to_carts": carts}, label)
    >>> model.score({"log_add_to_carts": 1.0}) > 0.75 > 0.25 > model.score({"log_add_to_carts": 0.0})
    True
    """

    def __init__(self, learning_rate: float = 0.01, warm_up: int = 200, l2: float = 1e-4) -> None:
        self.warm_up = warm_up
        self.logit = OnlineLogit(learning_rate, l2)
        self.labels_seen = 0
        self.positives = 0

    @property
    def warm(self) -> bool:
        fewer = min(self.positives, self.labels_seen - self.positives)
        return self.labels_seen >= self.warm_up and fewer >= self.warm_up // 10

    def learn_one(self, x: dict[str, float], label: bool, weight: float = 1.0) -> None:
        self.learn_values(x, x.values(), label, weight)

    def learn_values(self, names: Iterable[str], values: Iterable[float], label: bool, weight: float = 1.0) -> None:
        """Learn one input given as its feature values in ``names`` order."""
        self.logit.learn(names, values, bool(label), weight)
        self.labels_seen += 1
        self.positives += bool(label)

    def score(self, x: dict[str, float]) -> float | None:
        if not self.warm:
            return None
        return self.logit.probability(x)
