"""A write-back cache over the Faust customer-state table.

Faust writes a changelog record for every table assignment. Within a batch the engine
may update the same customer many times; this cache loads each customer once, lets the
engine work on the object in memory, and writes it back once when the batch ends, with
its changelog record in the batch's outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from faust.types import TP, EventT
from rocksdict import ReadOptions, WriteBatch

from models.jsonio import dumps, loads
from models.state import CustomerState
from stream.outbox import Outbox


class TableStore(MutableMapping[str, CustomerState]):
    """Customer states read from the Faust table's store, written back once per batch.

    Recently used states stay decoded between batches (at most ``cache_size``, least
    recently used out first): a customer active in consecutive batches is read from
    RocksDB and decoded once. The cache is dropped at every new assignment, because a
    partition that moves away and back may come back with state written elsewhere.

    Writes bypass the Faust table's own changelog path (a pending message, a future and
    a producer-buffer round per record): the local store is written directly and the
    changelog records go out through the outbox with the batch's other records. Once the
    broker has them, ``persisted`` records their offsets in the store, as Faust does for
    its own sends, so a restart restores only what came after.
    """

    def __init__(self, table: Any, outbox: Outbox, cache_size: int = 20_000) -> None:
        self.cache_size = cache_size
        self.data = table.data
        self.outbox = outbox
        self.changelog = table.changelog_topic.get_topic_name()
        self._cache: dict[str, CustomerState] = {}
        self._dirty: dict[str, EventT] = {}
        #: The input event whose processing writes now: its partition is the customer's.
        self.source: EventT | None = None

    def __getitem__(self, customer_id: str) -> CustomerState:
        state = self._cache.pop(customer_id, None)  # re-inserted below: most recently used last
        if state is None:
            raw = self.data.get(customer_id.encode())
            if raw is None:
                raise KeyError(customer_id)
            state = CustomerState.from_list(loads(raw))
        self._cache[customer_id] = state
        return state

    def __setitem__(self, customer_id: str, state: CustomerState) -> None:
        assert self.source is not None, "customer state written without a source event"
        self._cache[customer_id] = state
        self._dirty[customer_id] = self.source

    def __delitem__(self, customer_id: str) -> None:
        event = self.source
        assert event is not None, "customer state erased without a source event"
        key = customer_id.encode()
        cached = self._cache.pop(customer_id, None)
        self._dirty.pop(customer_id, None)
        if self.data.get(key) is not None:
            del self.data[key]
        elif cached is None:
            raise KeyError(customer_id)
        self.outbox.add(self.changelog, key, None, event.message.partition)

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in self.data)

    def __len__(self) -> int:
        """Customers in this worker's partitions: a full key scan, so call it rarely.

        The scan bypasses the block cache; through it, it would push out the blocks of
        the customers that are active now.
        """
        scan = ReadOptions()
        scan.fill_cache(False)  # type: ignore[call-arg]  # the stub omits the flag the method takes
        offset_key = self.data.offset_key  # Faust's own bookkeeping record in each partition
        return sum(1 for db in self.data._dbs_for_actives() for key in db.keys(read_opt=scan) if key != offset_key)

    def flush(self) -> int:
        """Write every changed customer once to the store and the outbox; return how many.

        The writes of a partition go to its RocksDB as one write batch, past Faust's
        per-key path (a current-event lookup and a locked key index per write); the key
        index is kept up to date so Faust's reads find the partition at once.
        """
        written = len(self._dirty)
        batches: dict[int, WriteBatch] = {}
        key_index = self.data._key_index
        for customer_id, event in self._dirty.items():
            key, value = customer_id.encode(), dumps(self._cache[customer_id].to_list())
            partition = event.message.partition
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = WriteBatch(raw_mode=True)
            batch.put(key, value)
            key_index[key] = partition
            self.outbox.add(self.changelog, key, value, partition)
        for partition, batch in batches.items():
            self.data._db_for_partition(partition).write(batch)
        self._dirty.clear()
        self.source = None  # the batch's events are done: a later write must name its own
        for _ in range(len(self._cache) - self.cache_size):
            del self._cache[next(iter(self._cache))]
        return written

    @property
    def cached(self) -> int:
        """Decoded states held between batches."""
        return len(self._cache)

    def rocksdb_memory(self) -> dict[str, int]:
        """Bytes RocksDB holds in memory for this worker's partitions, by part."""
        return self.data.rocksdb_options.memory()

    def drop_cache(self) -> None:
        """Forget decoded states not yet due for writing (on a new assignment)."""
        self._cache = {customer_id: self._cache[customer_id] for customer_id in self._dirty}

    def persisted(self, deliveries: Iterable[Any]) -> None:
        """Remember, per changelog partition, the last offset the broker has acknowledged.

        A delivery reports the offset of its batch's first record; the outbox sends the
        changelog's last record of each partition in a batch of its own (``exact_end``),
        so the highest reported offset is that of the last record.
        """
        last: dict[int, int] = {}
        for metadata in deliveries:
            if metadata.topic == self.changelog:
                last[metadata.partition] = max(metadata.offset, last.get(metadata.partition, -1))
        for partition, offset in last.items():
            self.data.set_persisted_offset(TP(self.changelog, partition), offset)
