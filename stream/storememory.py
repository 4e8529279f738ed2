"""One memory budget for RocksDB across all of a worker's state partitions.

Faust gives every partition's store its own block cache and write buffers (3 x 64 MiB
of memtables and a 2 GiB cache by default), so RocksDB's memory grows with the number
of partitions a worker owns and with the rate of state writes, for many minutes. Here
every partition shares one block cache, and a write buffer manager charges the
memtables to that same cache: RocksDB's memory stays at about ``budget_bytes`` (its LRU
shards may each run a little over) whatever the partition count, flushing memtables
earlier when the budget is tight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faust.stores.rocksdb import RocksDBOptions
from rocksdict import (
    AccessType,
    BlockBasedIndexType,
    BlockBasedOptions,
    Cache,
    Options,
    Rdict,
    ReadOptions,
    WriteBufferManager,
)

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

    def open(self, path: Path, *, read_only: bool = False) -> Rdict:
        """Open a partition's store with these options for its default column family as well.

        Given no column families, rocksdict reopens an existing store with the options it
        reads back from disk for the default column family: a cache of its own and no
        write buffer manager, so the budget would hold only until the first restart.
        """
        access = AccessType.read_only() if read_only else AccessType.read_write()
        default = {"default": self.as_options()}
        db = Rdict(str(path), options=self.as_options(), column_families=default, access_type=access)
        db.set_read_options(ReadOptions())
        return db

    def memory(self) -> dict[str, int]:
        """Bytes in the budget by part: memtables, and cached blocks, indexes and filters.

        LRU shards may each run a little over their share, so the total can pass the
        budget by a few percent.
        """
        memtables = self.write_buffers.get_usage()
        return {"memtables": memtables, "block_cache": max(self.cache.get_usage() - memtables, 0)}
