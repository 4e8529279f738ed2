import pickle

from models.engine import Engine
from models.events import Click, Order
from models.propensity import SESSION_GAP_MS, OpenSessions

MINUTE = 60_000


def sample(n: int) -> tuple[dict[str, float], float | None]:
    """Features, and a published score on even clicks only (a cold model publishes none)."""
    return {"n": float(n), "half": n / 2}, (n / 10 if n % 2 == 0 else None)


def test_an_order_within_the_gap_closes_the_session_as_converted():
    sessions = OpenSessions()
    for n in range(1, 6):
        sessions.on_click("c1", "s1", n * MINUTE, n, *sample(n))
    closed = list(sessions.on_order("c1", 5 * MINUTE + SESSION_GAP_MS))
    assert [(s.session_id, label) for s, label in closed] == [("s1", True)]
    assert closed[0][0].sample_count == 4  # clicks 1, 2, 3, 4 (not 5)
    session = closed[0][0]
    assert [(dict(zip(session.names, values, strict=True)), score) for values, score in session.samples()] == [
        sample(n) for n in (1, 2, 3, 4)
    ]
    assert sessions.size == 0 and list(sessions.advance(10**12)) == []


def test_thirty_quiet_minutes_close_the_session_unconverted_and_later_clicks_move_the_deadline():
    sessions = OpenSessions()
    sessions.on_click("c1", "s1", 0, 1, *sample(1))
    sessions.on_click("c1", "s1", 20 * MINUTE, 2, *sample(2))
    assert list(sessions.advance(SESSION_GAP_MS)) == [], "the second click keeps it open"
    (closed,) = sessions.advance(20 * MINUTE + SESSION_GAP_MS)
    assert closed[1] is False and closed[0].last_click_ts == 20 * MINUTE
    assert len(sessions._deadlines) == 0
    assert list(sessions.on_order("c1", 21 * MINUTE + SESSION_GAP_MS)) == []


def test_an_order_after_the_gap_does_not_convert_and_other_customers_are_untouched():
    sessions = OpenSessions()
    sessions.on_click("c1", "s1", 0, 1, *sample(1))
    sessions.on_click("c2", "s2", 0, 1, *sample(1))
    assert list(sessions.on_order("c1", SESSION_GAP_MS + 1)) == []
    assert list(sessions.on_order("c3", 1)) == []
    assert sorted(s.customer_id for s, label in sessions.advance(SESSION_GAP_MS) if not label) == ["c1", "c2"]


def test_open_sessions_are_capped():
    sessions = OpenSessions(max_open=100)
    for n in range(1000):
        sessions.on_click(f"c{n}", "s", n, 1, *sample(1))
    assert sessions.size == 100 and sessions.dropped == 900
    assert min(s.last_click_ts for by in sessions.by_customer.values() for s in by.values()) == 900


def test_the_engine_learns_that_carts_lead_to_orders():
    engine = Engine()
    ts = 0
    for n in range(600):
        customer, converted = f"c{n}", n % 3 == 0
        actions = ["view", "view", "add_to_cart", "checkout"] if converted else ["view", "view", "view"]
        for i, action in enumerate(actions):
            engine.process(Click(f"{customer}-{i}", customer, ts + i * MINUTE, f"s{n}", action, f"p{i}", None))
        if converted:
            engine.process(Order(f"{customer}-o", customer, ts + 4 * MINUTE, "o", 30.0, "USD", 1, None, "placed"))
        ts += 10 * MINUTE
    quality = engine.suite.quality()["purchase_propensity"]
    # Clicks 1 and 2 look alike in both kinds of session; the cart and checkout clicks tell them apart.
    assert quality["labels"] > 1500 and quality["roc_auc"] > 0.7
    cart = engine.process(Click("x1", "new1", ts, "sx", "add_to_cart", "p1", None))[0].value["scores"]
    browse = engine.process(Click("x2", "new2", ts, "sy", "view", "p1", None))[0].value["scores"]
    assert cart["purchase_propensity"] > browse["purchase_propensity"]


def test_sessions_closed_by_orders_leave_no_pile_of_heap_entries_and_the_rest_close_on_time():
    """Each order closes a session whose heap entry would wait for the watermark; the heap
    is rebuilt from the open sessions once those entries pile up, and closes are unchanged."""
    sessions = OpenSessions()
    for n in range(20_000):  # 1,000 customers, each clicking and ordering again and again
        customer, ts = f"c{n % 1000}", n * 10
        sessions.on_click(customer, f"s{customer}", ts, 1, *sample(n))
        if n % 3 == 2:
            assert [label for _session, label in sessions.on_order(customer, ts + 1)] == [True]
    assert len(sessions._deadlines) <= 2 * sessions.size + 1024
    for n in range(1000):  # one last click each, in reverse customer order
        sessions.on_click(f"c{999 - n}", f"sc{999 - n}", 200_000 + n, 2, *sample(n))
    assert sessions.size == 1000
    closed = list(sessions.advance(10**12))
    assert [(s.customer_id, s.last_click_ts) for s, _ in closed] == [(f"c{999 - n}", 200_000 + n) for n in range(1000)]
    assert sessions.size == 0


def test_sessions_open_at_a_checkpoint_go_on_after_it_is_loaded():
    """Feature names are shared tuples compared by identity; a loaded checkpoint holds copies."""
    straight, restored = Engine(), Engine()
    warm_up = [event for n in range(300) for event in _session(f"w{n}", n * 10 * MINUTE, 3, n % 3 == 0)]
    start = 3000 * MINUTE
    open_clicks = [_click(f"c{n}", f"s{n}", start + i * MINUTE, i) for i in range(20) for n in range(50)]
    later = [_click(f"c{n}", f"s{n}", start + i * MINUTE, i) for i in range(20, 40) for n in range(50)]
    later += [_order(f"c{n}", start + 41 * MINUTE) for n in range(25)]  # closes half, learned after the load
    later += _session("after", start + 200 * MINUTE, 3, False)  # the watermark closes the rest
    for event in warm_up + open_clicks:
        straight.process(event, emitted_at=0)
        restored.process(event, emitted_at=0)
    assert straight.suite.propensity.warm
    assert all(f"c{n}" in straight.suite.open_sessions.by_customer for n in range(50))
    restored = Engine(suite=pickle.loads(pickle.dumps(restored.suite)), states=restored.states)
    for event in later:  # clicks 24 and 32 of the open sessions are sampled
        assert restored.process(event, emitted_at=0)[0].value == straight.process(event, emitted_at=0)[0].value
    assert restored.suite.propensity.labels_seen == straight.suite.propensity.labels_seen > 300 * 3
    assert restored.suite.propensity.logit.weights == straight.suite.propensity.logit.weights


def _click(customer: str, session: str, ts: int, i: int) -> Click:
    action = "add_to_cart" if i % 5 == 4 else "view"
    return Click(f"{customer}-{session}-{i}", customer, ts, session, action, "p1", None)


def _order(customer: str, ts: int) -> Order:
    return Order(f"{customer}-o{ts}", customer, ts, f"o{ts}", 30.0, "USD", 1, None, "placed")


def _session(customer: str, ts: int, clicks: int, converted: bool) -> list[Click | Order]:
    events: list[Click | Order] = [_click(customer, f"s{ts}", ts + i * MINUTE, i) for i in range(clicks)]
    return [*events, _order(customer, ts + clicks * MINUTE)] if converted else events
