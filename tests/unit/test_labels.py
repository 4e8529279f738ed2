from models.labels import PendingLabels

DAY = 86_400_000


def labels(**kwargs) -> PendingLabels:
    return PendingLabels(horizon_days=90, min_gap_ms=DAY, **kwargs)


def test_next_order_inside_the_horizon_resolves_churn_as_zero_and_counts_towards_the_window():
    pending = labels()
    pending.take("c1", 0, {"x": 1.0}, {"churn_risk": 0.3})
    resolved = list(pending.on_order("c1", 10 * DAY, 25.0))
    assert [(r.kind, r.label) for r in resolved] == [("churn", 0.0)]
    assert list(pending.on_order("c1", 20 * DAY, 5.0)) == []  # already resolved
    closed = list(pending.advance(90 * DAY))
    assert [(r.kind, r.label) for r in closed] == [("horizon", {"orders": 2, "spend": 30.0})]
    assert pending.size == 0 and not pending.by_customer


def test_watermark_past_the_deadline_resolves_churn_as_one():
    pending = labels()
    pending.take("c1", 0, {}, {})
    assert list(pending.advance(90 * DAY - 1)) == []
    closed = list(pending.advance(90 * DAY))
    assert [(r.kind, r.label) for r in closed] == [("churn", 1.0), ("horizon", {"orders": 0, "spend": 0.0})]
    assert pending.stats.resolved_by_watermark == 1


def test_orders_after_the_deadline_do_not_count():
    pending = labels()
    pending.take("c1", 0, {}, {})
    assert list(pending.on_order("c1", 91 * DAY, 10.0)) == []
    assert [r.label for r in pending.advance(100 * DAY)] == [1.0, {"orders": 0, "spend": 0.0}]


def test_snapshots_are_spaced_and_capped_per_customer():
    pending = labels(per_customer=3)
    taken = 0
    for hour in range(24 * 10):
        ts = hour * 3_600_000
        if pending.due("c1", ts):
            pending.take("c1", ts, {}, {})
            taken += 1
    assert taken == 10  # one a day
    assert pending.size == 3 and pending.stats.evicted == 7
    assert [r.snapshot.ts for r in pending.advance(200 * DAY) if r.kind == "churn"] == [7 * DAY, 8 * DAY, 9 * DAY]


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
