"""JSON records as published and stored: exact bytes, and no more memory than their length."""

import tracemalloc

from models.jsonio import dumps, loads


def test_records_round_trip_in_insertion_order():
    record = {"b": 1, "a": [1.5, None, "é"], "c": {"z": True}}
    assert dumps(record) == '{"b":1,"a":[1.5,null,"é"],"c":{"z":true}}'.encode()
    assert list(loads(dumps(record))) == ["b", "a", "c"]


def test_each_record_holds_about_its_own_length_in_memory():
    """Queued and cached records add up: a 60-byte record must not pin a 4 KiB buffer."""
    record = {"customer_id": "c000001", "orders": 3, "spend": 120.5}
    tracemalloc.start()
    try:
        kept = [dumps(record) for _ in range(1000)]
        per_record = tracemalloc.get_traced_memory()[0] / len(kept)
    finally:
        tracemalloc.stop()
    assert per_record < 2 * len(kept[0]) + 64, per_record
