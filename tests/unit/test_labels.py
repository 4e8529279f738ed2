from models.features import unpack
from models.labels import PendingLabels

DAY = 86_400_000


def labels(**kwargs) -> PendingLabels:
    return PendingLabels(horizon_days=90, **kwargs)


def test_next_order_inside_the_horizon_settles_churn_as_zero_and_counts_towards_the_window():
    pending = labels()
    pending.take("c1", 0, {"x": 1.0}, {"churn_risk": 0.3})
    pending.on_order("c1", 10 * DAY, 25.0)
    pending.on_order("c1", 20 * DAY, 5.0)
    assert pending.stats.resolved_by_order == 1
    assert list(pending.advance(90 * DAY - 1)) == [], "handed back only at the deadline"
    (closed,) = pending.advance(90 * DAY)
    assert (closed.churned, closed.orders_after, closed.spend_after) == (False, 2, 30.0)
    assert unpack(closed.features) == {"x": 1.0} and closed.predictions == {"churn_risk": 0.3}
    assert pending.size == 0 and not pending.by_customer


def test_watermark_past_the_deadline_settles_churn_as_one():
    pending = labels()
    pending.take("c1", 0, {}, {})
    assert list(pending.advance(90 * DAY - 1)) == []
    (closed,) = pending.advance(90 * DAY)
    assert (closed.churned, closed.orders_after, closed.spend_after) == (True, 0, 0.0)
    assert pending.stats.resolved_by_watermark == 1 and pending.stats.resolved_by_order == 0


def test_orders_before_the_snapshot_or_after_the_deadline_do_not_count():
    pending = labels()
    pending.take("c1", 10 * DAY, {}, {})
    pending.on_order("c1", 10 * DAY, 10.0)
    pending.on_order("c1", 101 * DAY, 10.0)
    assert [s.churned for s in pending.advance(200 * DAY)] == [True]


def test_snapshots_come_back_in_deadline_order_across_customers():
    pending = labels()
    for customer, ts in [("c2", 5 * DAY), ("c1", 0), ("c3", 5 * DAY), ("c1", 3 * DAY)]:
        pending.take(customer, ts, {}, {})
    assert [(s.customer_id, s.ts // DAY) for s in pending.advance(200 * DAY)] == [
        ("c1", 0),
        ("c1", 3),
        ("c2", 5),
        ("c3", 5),
    ]


def test_snapshots_are_capped_per_customer():
    pending = labels(per_customer=3)
    for day in range(10):
        pending.take("c1", day * DAY, {}, {})
    assert pending.size == 3 and pending.stats.evicted == 7
    assert [s.ts for s in pending.advance(200 * DAY)] == [7 * DAY, 8 * DAY, 9 * DAY]


def test_global_cap_evicts_the_oldest_and_heap_stays_small():
    pending = labels(max_pending=100)
    for customer in range(5000):
        pending.take(f"c{customer}", customer * 1000, {}, {})
    assert pending.size == 100 and pending.stats.evicted == 4900
    assert len(pending._deadlines) <= 2 * pending.size + 1024
    assert min(s.ts for q in pending.by_customer.values() for s in q) == 4900 * 1000


def test_forget_drops_a_customer():
    pending = labels()
    pending.take("c1", 0, {}, {})
    pending.forget("c1")
    assert pending.size == 0 and list(pending.advance(365 * DAY)) == []
