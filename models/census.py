"""A periodic census of buyers: the moments at which churn labels are sampled.

A churn score is read at any moment ("who is at risk now?"), so the model must learn from
customers as they look at arbitrary moments, quiet ones included. Sampling labels only
when customers act would show the learner almost nobody who has gone quiet, and it would
rank the quiet badly. So every ``every_ms`` of event time the census takes every member
as they stand at that moment: their state as of their last event, aged to the census
time (the state's features are functions of "now").

Members are a uniform sample by a stable hash of the customer id, at most
``max_customers``: when the census is full the hash threshold halves and members above
it leave. The same log gives the same members in any process, in the same order.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from models.state import CustomerState
from models.timeutil import MS_PER_DAY

HASH_SPACE = 1 << 32


def _hash(customer_id: str) -> int:
    return zlib.crc32(customer_id.encode())


@dataclass
class Census:
    """Members' latest state and the next census time.

    >>> census = Census(every_ms=10)
    >>> census.record(CustomerState("c1"), 3)
    >>> census.due(25)  # an event at 25 passes the census times 10 and 20
    [10, 20]
    """

    every_ms: int = 14 * MS_PER_DAY
    max_customers: int = 20_000
    threshold: int = HASH_SPACE
    next_ts: int | None = None
    #: customer id -> (hash, the state after its latest event). The object itself, not a
    #: copy: a state changes only while one of its events is processed, and every event
    #: of a member ends by recording the member again, so no copy can differ from it.
    entries: dict[str, tuple[int, CustomerState]] = field(default_factory=dict)

    def record(self, state: CustomerState, ts: int) -> None:
        """Keep a member's state as of its event at ``ts``; admit it if its hash is in range."""
        if self.next_ts is None:
            self.next_ts = (ts // self.every_ms + 1) * self.every_ms
        customer_id = state.customer_id
        entry = self.entries.get(customer_id)
        key = entry[0] if entry is not None else _hash(customer_id)
        if key >= self.threshold:
            return
        self.entries[customer_id] = (key, state)
        if len(self.entries) > self.max_customers:
            self._shrink()

    def due(self, ts: int) -> list[int]:
        """Census times passed by an event at ``ts`` (call before applying that event)."""
        times: list[int] = []
        while self.next_ts is not None and ts > self.next_ts:
            times.append(self.next_ts)
            self.next_ts += self.every_ms
        return times

    def members(self, at_ts: int) -> Iterator[tuple[str, CustomerState]]:
        """Members seen by ``at_ts``, in hash order (a fixed shuffle)."""
        for customer_id, (_key, state) in sorted(self.entries.items(), key=lambda item: item[1][0]):
            if state.last_event_ts is not None and state.last_event_ts <= at_ts:
                yield customer_id, state

    def forget(self, customer_id: str) -> None:
        self.entries.pop(customer_id, None)

    def _shrink(self) -> None:
        while len(self.entries) > self.max_customers:
            self.threshold //= 2
            self.entries = {c: entry for c, entry in self.entries.items() if entry[0] < self.threshold}
