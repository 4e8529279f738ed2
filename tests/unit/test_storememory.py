"""RocksDB stores of several partitions share one memory budget and still hold every record."""

import os

from stream.storememory import BudgetedOptions

MIB = 1 << 20


def test_partitions_written_far_past_the_budget_stay_within_it(tmp_path):
    budget = 8 * MIB
    options = BudgetedOptions(budget)
    dbs = [options.open(tmp_path / f"p{partition}.db") for partition in range(4)]
    value = os.urandom(700)  # about one customer's serialized state
    try:
        for n in range(60_000):  # 4 x 10 MiB written, 5 times the budget
            dbs[n % 4][f"c{n:06d}".encode()] = value
        for n in range(0, 60_000, 7):  # read back, through the shared cache
            assert dbs[n % 4][f"c{n:06d}".encode()] == value
        memory = options.memory()
        assert memory["memtables"] > 0 and memory["block_cache"] > 0
        assert sum(memory.values()) <= budget * 1.25, memory  # LRU shards run a little over
    finally:
        for db in dbs:
            db.close()


def test_reopened_stores_share_the_budget_too(tmp_path):
    """A restart reopens existing stores: their blocks must still go to the one shared cache."""
    options = BudgetedOptions(64 * MIB)
    paths = [tmp_path / f"p{partition}.db" for partition in range(2)]
    value = os.urandom(700)
    for path in paths:
        db = options.open(path)
        for n in range(30_000):
            db[f"c{n:06d}".encode()] = value
        db.close()
    dbs = [options.open(path) for path in paths]
    try:
        for db in dbs:
            for n in range(0, 30_000, 10):
                assert db[f"c{n:06d}".encode()] == value
        shared = options.cache.get_usage()
        assert shared > 8 * MIB  # the blocks of both stores, in the budget's cache
        assert [db.property_int_value("rocksdb.block-cache-usage") for db in dbs] == [shared, shared]
    finally:
        for db in dbs:
            db.close()


def test_without_a_budget_each_partition_would_hold_its_own_memtables(tmp_path):
    """The same writes with Faust's per-partition options keep more in memory than the budget."""
    from faust.stores.rocksdb import RocksDBOptions

    dbs = [RocksDBOptions(block_cache_size=8 * MIB).open(tmp_path / f"p{partition}.db") for partition in range(4)]
    value = os.urandom(700)
    try:
        for n in range(60_000):
            dbs[n % 4][f"c{n:06d}".encode()] = value
        memtables = sum(db.property_int_value("rocksdb.cur-size-all-mem-tables") for db in dbs)
        assert memtables > 8 * MIB * 1.1
    finally:
        for db in dbs:
            db.close()
