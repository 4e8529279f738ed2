import random

from stream.merge import EventTimeMerge, TopicPartition

O0, C0, R0 = TopicPartition("orders", 0), TopicPartition("clicks", 0), TopicPartition("reviews", 0)
RANK = {"orders": 0, "clicks": 1, "reviews": 2}


def merge_with(**kwargs) -> EventTimeMerge[str]:
    merge: EventTimeMerge[str] = EventTimeMerge(rank=RANK, **kwargs)
    merge.assign([O0, C0, R0])
    for tp in (O0, C0, R0):
        merge.start_at(tp, 0)
    return merge


def test_releases_in_event_time_order_when_all_partitions_are_settled():
    merge = merge_with()
    merge.add(C0, 0, 30, "click@30")
    merge.add(O0, 0, 10, "order@10")
    merge.add(C0, 1, 40, "click@40")
    merge.add(R0, 0, 20, "review@20")
    highwater = {O0: 1, C0: 2, R0: 1}.get
    assert merge.release(highwater, now=0.0) == ["order@10", "review@20", "click@30", "click@40"]


def test_waits_for_a_partition_with_unread_records_then_merges_them():
    merge = merge_with()
    merge.add(C0, 0, 30, "click@30")
    merge.add(O0, 0, 10, "order@10")
    highwater = {O0: 1, C0: 1, R0: 1}.get  # one review is on the broker, not yet received
    assert merge.release(highwater, now=0.0) == []  # the unread review may be older than both
    merge.add(R0, 0, 20, "review@20")
    assert merge.release(highwater, now=0.1) == ["order@10", "review@20", "click@30"]


def test_equal_times_follow_topic_rank_and_fifo_within_a_partition():
    merge = merge_with()
    merge.add(C0, 0, 10, "click-a")
    merge.add(C0, 1, 5, "click-b")  # late within its partition: stays behind click-a
    merge.add(O0, 0, 10, "order")
    assert merge.release({O0: 1, C0: 2, R0: 0}.get, now=0.0) == ["order", "click-a", "click-b"]


def test_idle_timeout_forces_release_past_a_partition_never_heard_of_and_counts_it():
    merge = merge_with(max_idle_ms=500)
    merge.add(O0, 0, 10, "order@10")
    highwater = {O0: 1, R0: 0}.get  # the consumer knows nothing yet of clicks
    assert merge.release(highwater, now=1.0) == []
    assert merge.release(highwater, now=1.4) == []
    assert merge.release(highwater, now=1.6) == ["order@10"]
    assert merge.stats.forced_idle == 1


def test_records_known_to_be_unread_are_waited_for_longer_than_the_idle_timeout():
    merge = merge_with(max_idle_ms=500, max_lag_wait_ms=5_000)
    merge.add(O0, 0, 10, "order@10")
    highwater = {O0: 1, C0: 5, R0: 0}.get  # five clicks on the broker, not yet fetched
    assert merge.release(highwater, now=1.0) == []
    assert merge.release(highwater, now=4.0) == []  # a slow fetch does not reorder events
    assert merge.release(highwater, now=6.1) == ["order@10"]
    assert merge.stats.forced_idle == 1


def test_full_buffer_forces_release():
    merge = merge_with(max_buffered=2)
    for offset in range(3):
        merge.add(O0, offset, offset, f"order{offset}")
    released = merge.release({O0: 3, C0: 9, R0: 0}.get, now=0.0)
    assert released == ["order0"]
    assert merge.stats.forced_full == 1


def test_unknown_highwater_is_not_settled_and_revoke_returns_held_items():
    merge = merge_with()
    merge.add(O0, 0, 10, "order@10")
    assert merge.release(lambda tp: None if tp == C0 else 1, now=0.0) == []
    assert merge.revoke([O0]) == ["order@10"]
    assert merge.buffered == 0


def test_many_partitions_release_in_time_rank_partition_order_and_fifo():
    rng = random.Random(7)
    tps = [TopicPartition(topic, partition) for topic in RANK for partition in range(8)]
    merge: EventTimeMerge[tuple[TopicPartition, int, int]] = EventTimeMerge(rank=RANK)
    merge.assign(tps)
    queues: dict[TopicPartition, list[tuple[TopicPartition, int, int]]] = {tp: [] for tp in tps}
    for _ in range(2_000):
        tp = rng.choice(tps)
        item = (tp, len(queues[tp]), rng.randrange(50))  # many equal times: the tie-breaks count
        queues[tp].append(item)
        merge.add(tp, item[1], item[2], item)

    expected = []  # the rule by hand: the head with the smallest (time, rank, partition) next
    while any(queues.values()):
        head = min((queue[0][2], RANK[tp.topic], tp.partition, tp) for tp, queue in queues.items() if queue)[3]
        expected.append(queues[head].pop(0))
    highwater = {tp: sum(1 for item in expected if item[0] == tp) for tp in tps}.get
    assert merge.release(highwater, now=0.0) == expected
    assert merge.buffered == 0
