"""A write-back cache over the Faust customer-state table.

Faust writes a changelog record for every table assignment. Within a batch the engine
may update the same customer many times; this cache loads each customer once, lets the
engine work on the object in memory, and writes it back once when the batch ends.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Awaitable, Iterator, MutableMapping
from typing import Any

from faust.streams import _current_event, current_event
from faust.types import EventT

from models.jsonio import dumps, loads
from models.state import CustomerState


@contextlib.contextmanager
def event_context(event: EventT) -> Iterator[None]:
    """Make ``event`` Faust's current event.

    Faust picks the RocksDB partition and the changelog partition of a table write from
    the current event. Writes are deferred to the end of a batch, so the event of the
    customer being written is set explicitly; it is in the customer's partition because
    all inputs are co-partitioned by customer id.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class TableStore(MutableMapping[str, CustomerState]):
    """Customer states of one batch, read from and flushed to the Faust table."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._cache: dict[str, CustomerState] = {}
        self._dirty: dict[str, EventT] = {}
        self._writes: list[Awaitable[Any]] = []
        # Faust queues each changelog record in its producer buffer and forgets it; kept
        # here, a batch can wait until its state writes are on the broker before acking.
        send_changelog = table.send_changelog

        def recorded_send_changelog(*args: Any, **kwargs: Any) -> Any:
            future = send_changelog(*args, **kwargs)
            self._writes.append(future)
            return future

        table.send_changelog = recorded_send_changelog

    def take_writes(self) -> list[Awaitable[Any]]:
        """Changelog records queued since the last call (each resolves once the broker has it)."""
        writes, self._writes = self._writes, []
        return writes

    def __getitem__(self, customer_id: str) -> CustomerState:
        state = self._cache.get(customer_id)
        if state is None:
            raw = self.table.get(customer_id.encode())
            if raw is None:
                raise KeyError(customer_id)
            state = self._cache[customer_id] = CustomerState.from_list(loads(raw))
        return state

    def __setitem__(self, customer_id: str, state: CustomerState) -> None:
        event = current_event()
        assert event is not None, "customer state written outside event_context()"
        self._cache[customer_id] = state
        self._dirty[customer_id] = event

    def __delitem__(self, customer_id: str) -> None:
        self._cache.pop(customer_id, None)
        self._dirty.pop(customer_id, None)
        del self.table[customer_id.encode()]

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in self.table)

    def __len__(self) -> int:
        return len(self.table)

    def flush(self) -> int:
        """Write every changed customer once; return how many were written."""
        written = len(self._dirty)
        for customer_id, event in self._dirty.items():
            with event_context(event):
                self.table[customer_id.encode()] = dumps(self._cache[customer_id].to_list())
        self._dirty.clear()
        self._cache.clear()
        return written
