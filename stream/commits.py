"""Offsets Faust may commit: only those the pipeline has processed, with their records flushed.

Faust computes a partition's next commit from the offsets acknowledged so far. Two of
its paths acknowledge messages nobody processed: during a rebalance, messages already
fetched for the old generation are skipped *and* acknowledged ("otherwise the lag would
increase"), and its gap check is skipped while a partition has no committed offset.
Either lets a commit run past events still held in the event-time merge or never
delivered to it; after a crash those events are gone. Here the pipeline's own frontier
decides instead: every offset below it has been processed and its records are on the
broker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.types import TP

#: ``frontier(tp)`` for a partition the pipeline does not track: Faust decides.
UNTRACKED = -1


def guard_commits(consumer: Any, frontier: Callable[[TP], int | None]) -> None:
    """Make ``consumer`` commit each tracked partition up to ``frontier(tp)`` and no further."""
    if getattr(consumer, "_pulse_guarded", False):
        return
    faust_new_offset = consumer._new_offset

    def new_offset(tp: TP) -> int | None:
        safe = frontier(tp)
        if safe == UNTRACKED:
            return faust_new_offset(tp)
        acked = consumer._acked.get(tp)
        if acked:  # Faust's bookkeeping below the frontier is settled; keep it small
            settled = [offset for offset in acked if offset < (safe or 0)]
            if settled:
                acked[:] = [offset for offset in acked if offset >= (safe or 0)]
                consumer._acked_index[tp].difference_update(settled)
        committed = consumer._committed_offset.get(tp)
        if safe is None or (committed is not None and safe <= committed):
            return None
        return safe

    consumer._new_offset = new_offset
    consumer._pulse_guarded = True
