"""One memory budget for RocksDB across all of a worker's state partitions.

Faust gives every partition's store its own block cache and write buffers (3 x 64 MiB
of memtables and a 2 GiB cache by default), so RocksDB's memory grows with the number
of partitions a worker owns and with the rate of state writes, for many minutes. Here
every partition shares one block cache, and a write buffer manager charges the
memtables to that same cache: RocksDB's memory stays under ``budget_bytes`` whatever
the partition count, flushing memtables earlier when the budget is tight.
"""

from __future__ import annotations

from typing import Any

from faust.stores.rocksdb import RocksDBOptions
from rocksdict import BlockBasedIndexType, BlockBasedOptions, Cache, Options, Rdict, WriteBufferManager

#: Per-partition memtable size; the shared budget flushes them sooner when it fills.
WRITE_BUFFER_BYTES = 8 << 20


class BudgetedOptions(RocksDBOptions):
    """Faust's RocksDB options with the block cache and memtables of every partition in one budget."""

    def __init__(self, budget_bytes: int, **options: Any) -> None:
        super().__init__(
            write_buffer_size=WRITE_BUFFER_BYTES, max_write_buffer_number=2, block_cache_size=budget_bytes, **options
        )
        self.cache = Cache(budget_bytes)
        # Memtables may take half the budget before RocksDB flushes them; no stalls, as
        # a stalled write would hold up the whole batch behind it.
        self.write_buffers = WriteBufferManager.new_write_buffer_manager_with_cache(
            budget_bytes // 2, False, self.cache
        )

    def as_options(self) -> Options:
        options = super().as_options()
        table = BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_index_type(BlockBasedIndexType.binary_search())
        table.set_block_cache(self.cache)
        table.set_cache_index_and_filter_blocks(True)  # inside the budget too
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(self.write_buffers)
        return options

    def memory(self, dbs: list[Rdict]) -> dict[str, int]:
        """Bytes in the budget by part: memtables, and cached blocks, indexes and filters."""
        memtables = sum(db.property_int_value("rocksdb.cur-size-all-mem-tables") or 0 for db in dbs)
        return {"memtables": memtables, "block_cache": max(self.cache.get_usage() - memtables, 0)}
