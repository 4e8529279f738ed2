"""Input offsets in order: holes and a stalled partition end are read again, not lost."""

import asyncio
from typing import Any

from aiokafka.errors import IllegalStateError

from stream.merge import TopicPartition
from stream.sequence import PartitionSequence

TP = TopicPartition("orders", 5)


class ConsumerThread:
    """Records the seeks the sequence asks of Faust's consumer thread."""

    def __init__(self) -> None:
        self.seeks: list[tuple[Any, int]] = []

    async def call_thread(self, method: Any, *args: Any) -> Any:
        return method(*args)

    def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tuple(tp), offset))


class Consumer:
    def __init__(self) -> None:
        self._thread = ConsumerThread()
        self._read_offset: dict[Any, int | None] = {}


def sequence_at(offset: int) -> tuple[PartitionSequence, Consumer]:
    sequence, consumer = PartitionSequence(), Consumer()
    sequence.received[TP] = offset
    return sequence, consumer


def test_a_partition_end_the_client_read_but_that_never_arrived_is_read_again_after_the_stall_time() -> None:
    sequence, consumer = sequence_at(80)
    position, highwater = {TP: 86}.get, {TP: 86}.get  # the client handed 80..85 to Faust, which dropped them

    assert sequence.stalled(position, highwater, now=100.0) == []
    assert sequence.stalled(position, highwater, now=100.0 + sequence.stall_s - 0.1) == []
    assert sequence.stalled(position, highwater, now=100.0 + sequence.stall_s) == [TP]

    asyncio.run(sequence.rewind_stalled(consumer, [TP]))
    assert consumer._thread.seeks == [(("orders", 5), 80)]
    assert consumer._read_offset[("orders", 5)] == 80
    assert TP in sequence.rewinding and sequence.rewinds == 1
    # While the rewind waits it is not chased again, and the record at 80 ends it.
    assert sequence.stalled(position, highwater, now=200.0) == []
    assert asyncio.run(sequence.accept(consumer, TP, 80)) is True
    assert TP not in sequence.rewinding and sequence.received[TP] == 81


def test_progress_restarts_the_stall_clock() -> None:
    sequence, _consumer = sequence_at(80)
    position, highwater = {TP: 90}.get, {TP: 100}.get
    sequence.stalled(position, highwater, now=0.0)
    sequence.received[TP] = 85  # records arrived in the meantime
    assert sequence.stalled(position, highwater, now=sequence.stall_s) == []
    assert sequence.stalled(position, highwater, now=2 * sequence.stall_s) == [TP]


def test_nothing_is_chased_that_the_client_has_not_read_or_the_broker_does_not_hold() -> None:
    sequence, _consumer = sequence_at(80)
    later = 10 * sequence.stall_s
    cases = {
        "still being fetched": ({TP: 80}.get, {TP: 90}.get),
        "position unknown": ({}.get, {TP: 90}.get),
        "a gap at the partition's end": ({TP: 86}.get, {TP: 80}.get),
        "broker end unknown": ({TP: 86}.get, {}.get),
    }
    for name, (position, highwater) in cases.items():
        sequence.stalled(position, highwater, now=0.0)
        assert sequence.stalled(position, highwater, now=later) == [], name


def test_a_revoked_partition_forgets_its_stall() -> None:
    sequence, _consumer = sequence_at(80)
    sequence.stalled({TP: 86}.get, {TP: 86}.get, now=0.0)
    sequence.revoke([TP])
    assert sequence.overdue == {} and sequence.stalled({TP: 86}.get, {TP: 86}.get, now=100.0) == []


def accepts(sequence: PartitionSequence, consumer: Consumer, *offsets: int) -> list[bool]:
    return [asyncio.run(sequence.accept(consumer, TP, offset)) for offset in offsets]


def test_an_offset_that_holds_no_record_is_passed_once_a_re_read_starts_after_it() -> None:
    sequence, consumer = sequence_at(100)  # offset 100 is, say, a transaction's commit marker
    sequence.give_up_s = 0.0
    # 101 shows the hole; 102, 103 were fetched before the seek; the re-read starts at 101.
    assert accepts(sequence, consumer, 101, 102, 103) == [False, False, False]
    assert consumer._thread.seeks == [(("orders", 5), 100)]
    assert accepts(sequence, consumer, 101, 102, 103) == [True, True, True]
    assert sequence.received[TP] == 104 and not sequence.rewinding and not sequence.furthest


def test_a_rewind_waits_for_a_re_read_and_never_goes_on_from_messages_fetched_before_its_seek() -> None:
    sequence, consumer = sequence_at(100)
    sequence.give_up_s = 0.0
    assert accepts(sequence, consumer, 150, 151, 152, 153) == [False] * 4  # all fetched before the seek
    assert accepts(sequence, consumer, 100, 101) == [True, True]  # the re-read brings the skipped records
    assert sequence.received[TP] == 102


def test_a_re_read_past_an_empty_offset_waits_the_give_up_time_first() -> None:
    sequence, consumer = sequence_at(100)
    assert accepts(sequence, consumer, 101, 101) == [False, False]  # within give_up_s: still waiting
    assert TP in sequence.rewinding


def test_a_partition_taken_away_before_its_seek_is_forgotten_not_fatal() -> None:
    sequence, consumer = sequence_at(100)

    def no_longer_assigned(tp: Any, offset: int) -> None:
        raise IllegalStateError(f"No current assignment for partition {tp}")

    consumer._thread.seek = no_longer_assigned  # type: ignore[method-assign]
    assert accepts(sequence, consumer, 105) == [False]
    assert TP not in sequence.received and not sequence.rewinding and not sequence.sought
