"""The collector's settings: survivors of a full collection are frozen, young cycles still freed."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from stream import gcpolicy


@pytest.fixture
def settled() -> Iterator[None]:
    threshold = gc.get_threshold()
    gcpolicy.settle_collector()
    try:
        yield
    finally:
        gc.callbacks.remove(gcpolicy._freeze_survivors)
        gc.unfreeze()
        gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_a_full_collection_freezes_what_it_keeps(settled: None) -> None:
    kept = [Node() for _ in range(1000)]
    frozen = gc.get_freeze_count()
    gc.collect()
    assert gc.get_freeze_count() >= frozen + len(kept)
    assert not any(gc.get_objects(generation=2))  # the next full collection starts empty


def test_cycles_made_later_are_still_collected(settled: None) -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect(0) >= 2


def test_settling_twice_registers_one_callback(settled: None) -> None:
    gcpolicy.settle_collector()
    assert gc.callbacks.count(gcpolicy._freeze_survivors) == 1
