import json
from pathlib import Path

import jsonschema
import pytest

from models.engine import Engine
from models.events import Click, Order, Review
from models.records import dead_letter
from models.state import CustomerState, Source, _holds_token

DAY = 86_400_000
SCHEMAS = Path(__file__).parents[2] / "models" / "schemas"


def order(eid, ts, amount=10.0, status="placed", customer="c1"):
    return Order(eid, customer, ts, f"o-{eid}", amount, "USD", 1, None, status)


def click(eid, ts, session, customer="c1"):
    return Click(eid, customer, ts, session, "view", None, None)


def review(eid, ts, rating, customer="c1"):
    return Review(eid, customer, ts, "p1", rating, "ok")


def test_state_totals_gaps_and_returns():
    state = CustomerState("c1")
    for event in [
        order("a", 0, 10.0),
        click("b", DAY, "s1"),
        click("c", DAY + 1000, "s1"),
        click("d", 3 * DAY, "s2"),
        order("e", 10 * DAY, 30.0),
        order("f", 11 * DAY, 30.0, status="refunded"),
        order("g", 30 * DAY, 5.0),
        review("h", 31 * DAY, 5),
        review("i", 32 * DAY, 2),
    ]:
        state.apply(event)
    assert (state.orders, state.returns, state.clicks, state.sessions, state.reviews) == (3, 1, 3, 2, 2)
    assert state.spend == pytest.approx(15.0)
    assert (state.first_order_ts, state.last_order_ts) == (0, 30 * DAY)
    assert state.avg_rating == 3.5
    assert state.usual_gap_days == pytest.approx(15.0)
    assert state.days_since_last_order(33 * DAY) == pytest.approx(3.0)


def test_spend_is_exact_whatever_order_orders_and_refunds_arrive():
    events = [order(str(i), i, amount) for i, amount in enumerate([0.1, 0.2, 0.3, 19.99, 305.71, 0.07, 12.345])]
    events.append(order("r", 99, 0.3, status="refunded"))
    totals = set()
    for permutation in (events, events[::-1], sorted(events, key=lambda e: str(e.amount))):
        state = CustomerState("c1")
        for event in permutation:
            state.apply(event)
        totals.add(state.spend)
    assert totals == {338.415}


def test_state_round_trips_through_its_list_encoding():
    state = CustomerState("c1")
    state.apply(order("a", 0))
    state.mark_applied(order("a", 0), Source("orders", 3, 17))
    copy = CustomerState.from_list(json.loads(json.dumps(state.to_list())))
    assert copy == state and copy.applied == {"orders": 17}
    with pytest.raises(ValueError, match="version"):
        CustomerState.from_list([99, *state.to_list()[1:]])


def test_redelivered_and_duplicate_events_change_nothing_but_are_scored():
    engine = Engine()
    first = engine.process(order("a", 0, 10.0), Source("orders", 0, 5))
    engine.process(order("b", DAY, 20.0), Source("orders", 0, 6))
    again = engine.process(order("a", 0, 10.0), Source("orders", 0, 5))  # redelivered after a crash
    copy = engine.process(order("b", DAY, 20.0), Source("orders", 0, 9))  # producer sent it twice
    state = engine.states["c1"]
    assert (state.orders, state.spend) == (2, 30.0)
    assert engine.stats.duplicates == 2
    assert first[0].value["event_id"] == again[0].value["event_id"] == "a"
    assert copy[0].value["state"]["orders"] == 2


def test_offsets_are_tracked_per_source_topic():
    engine = Engine()
    engine.process(order("a", 0), Source("orders", 0, 5))
    engine.process(click("b", 1, "s"), Source("clicks", 0, 5))
    assert engine.states["c1"].clicks == 1


def test_score_record_matches_schema_and_is_deterministic():
    schema = json.loads((SCHEMAS / "customer-score.schema.json").read_text())
    events = [order("a", 0, 12.5), click("b", 2 * DAY, "s1"), review("c", 3 * DAY, 4), order("d", 9 * DAY, 7.5)]
    runs = []
    for _ in range(2):
        engine = Engine()
        runs.append([out.value for event in events for out in engine.process(event, emitted_at=0)])
    assert runs[0] == runs[1]
    for record in runs[0]:
        jsonschema.validate(record, schema)
    last = runs[0][-1]
    rfm = {name: last["scores"][name] for name in ("recency_days", "frequency", "monetary")}
    assert rfm == {"recency_days": 0.0, "frequency": 2, "monetary": 10.0}
    assert {"churn_risk", "churn_reasons", "anomaly", "anomaly_threshold"} <= set(last["scores"])
    assert last["scores"]["churn_risk"] is None  # warming up: no labels yet
    assert last["state"]["first_order_ts"] == "1970-01-01T00:00:00.000Z"
    assert runs[0][2]["scores"]["recency_days"] == 3.0


def test_dead_letter_matches_schema_and_truncates_raw():
    schema = json.loads((SCHEMAS / "dead-letter.schema.json").read_text())
    record = dead_letter("invalid_json", "not valid JSON", b"\xff" + b"x" * 9000, "orders", 2, 41, 0)
    jsonschema.validate(record, schema)
    assert len(record["raw"]) == 4096 and record["raw_bytes"] == 9001
    assert record["raw"].startswith("\ufffd")


class RecordingStore(dict):
    """A state store that remembers every write, as the worker's table does."""

    def __init__(self):
        super().__init__()
        self.writes: list[str] = []

    def __setitem__(self, key, value):
        self.writes.append(key)
        super().__setitem__(key, value)


def test_a_redelivered_event_writes_the_unchanged_state_back():
    """After a crash the local store may hold a state its changelog never saw; rewrite it."""
    store = RecordingStore()
    engine = Engine(states=store)
    engine.process(order("a", 0, 10.0), Source("orders", 0, 5))
    engine.process(order("a", 0, 10.0), Source("orders", 0, 5))
    assert store.writes == ["c1", "c1"]
    assert (store["c1"].orders, store["c1"].spend) == (1, 10.0)


def test_activity_rates_decay_in_event_time_and_sessions_count_clicks():
    state = CustomerState("c1")
    for i in range(4):
        state.apply(click(f"k{i}", i * 1000, "s1"))
    state.apply(Click("k9", "c1", 5000, "s1", "remove_from_cart", "p1", None))
    assert state.session_clicks == 5 and state.session_start_ts == 0
    clicks, sessions, removes = state.rates_at(5000)
    assert (
        clicks == pytest.approx(5.0, rel=1e-4)
        and sessions == pytest.approx(1.0, rel=1e-4)
        and removes == pytest.approx(1.0)
    )
    later = state.rates_at(5000 + 14 * DAY)  # one time constant later
    assert later[0] == pytest.approx(5.0 / 2.718281828, rel=1e-4)
    state.apply(click("k10", 6000, "s2"))
    assert state.session_clicks == 1 and state.sessions == 2


def test_recent_orders_and_rating_average():
    state = CustomerState("c1")
    for i in range(3):
        state.apply(order(f"o{i}", i * 60_000))
    assert state.orders_since(60_000) == 2
    state.apply(review("r1", 0, 5))
    state.apply(review("r2", 0, 1))
    assert state.rating_ewm == pytest.approx(5 + 0.3 * (1 - 5))


def as_version_3(state: CustomerState, sessions: list[str], products: list[str]) -> dict:
    """The state's fields as version 3 stored them: sessions and products as plain lists."""
    fields = dict(zip(CustomerState.__slots__, state.to_list()[1:], strict=True))
    return fields | {"recent_sessions": sessions, "session_products": products}


def as_version_2(state: CustomerState, event_ids: list[str], sessions: list[str]) -> dict:
    """The state's fields as version 2 stored them: recent event ids as a plain list too."""
    return as_version_3(state, sessions, []) | {"recent_event_ids": event_ids}


def test_a_version_1_state_decodes_with_the_fields_added_since_at_their_defaults():
    state = CustomerState("c1")
    state.apply(order("a", 0, 12.5))
    state.apply(click("b", DAY, "s1"))
    v2 = as_version_2(state, ["a", "b"], ["s1"])
    added = {"alerts", "segment", "sentiment", "session_actions", "session_dwell_ms", "session_product_view_ts",
             "session_product_views", "session_products"}  # fmt: skip
    v1 = [1, *(value for name, value in v2.items() if name not in added)]
    decoded = CustomerState.from_list(v1)
    assert (decoded.orders, decoded.spend, decoded.clicks) == (1, 12.5, 1)
    assert decoded.session_actions == [0, 0, 0, 0, 0] and decoded.segment is None and decoded.sentiment is None
    assert decoded.has_applied(click("b", DAY, "s1"), None) and not decoded.has_applied(click("c", DAY, "s1"), None)
    decoded.apply(click("c", DAY + 1000, "s1"))
    assert (decoded.sessions, decoded.session_clicks) == (1, 2), "the listed session goes on"


def test_a_version_2_state_keeps_recognising_the_events_it_listed():
    state = CustomerState("c1")
    ids = [f"{i:08x}-7c1e-4b1a-9f3e-2d5c8a6b4e10" for i in range(40)]
    for event_id in ids:
        state.apply(click(event_id, DAY, "s1"))
    decoded = CustomerState.from_list([2, *as_version_2(state, ids, ["s1"]).values()])
    assert decoded.clicks == 40
    assert [event_id for event_id in ids if decoded.has_applied(click(event_id, DAY, "s1"), None)] == ids[-32:]
    assert decoded.to_list()[0] == 4


def test_a_version_3_state_keeps_its_sessions_and_the_session_products_it_listed():
    state = CustomerState("c1")
    sessions = [f"session-{i}" for i in range(10)]
    for i, session in enumerate(sessions):
        state.apply(click(f"e{i}", DAY + i, session))
    state.apply(Click("p", "c1", DAY + 20, "session-9", "view", "p1", None))
    state.apply(Click("q", "c1", DAY + 30, "session-9", "view", "p2", None))
    decoded = CustomerState.from_list([3, *as_version_3(state, sessions[-8:], ["p1", "p2"]).values()])
    assert decoded.to_list()[0] == 4 and decoded.distinct_products == 2
    decoded.apply(Click("r", "c1", DAY + 40, "session-9", "view", "p1", None))
    assert (decoded.sessions, decoded.session_clicks, decoded.distinct_products) == (10, 4, 2)
    decoded.apply(click("s", DAY + 50, "session-2"))
    assert decoded.sessions == 10, "a session among the last eight is not new"
    decoded.apply(click("t", DAY + 60, "session-1"))
    assert decoded.sessions == 11, "one older than the last eight counts again"


def test_sessions_and_products_are_kept_in_a_fixed_few_hundred_bytes():
    state = CustomerState("c1")
    for i in range(100):
        state.apply(click(f"e{i}", DAY + i, f"{i:08x}-7c1e-4b1a-9f3e-2d5c8a6b4e10"))
    for i in range(80):
        state.apply(Click(f"v{i}", "c1", 2 * DAY + i, "last", "view", f"product-{i}-" + "x" * 40, None))
    assert state.sessions == 101 and len(state.recent_sessions) == 8 * 12
    assert state.distinct_products == 50 and len(state.session_products) == 50 * 12
    assert json.loads(json.dumps(state.to_list())) == state.to_list()


def test_recent_event_ids_remember_the_last_32_in_a_fixed_few_hundred_bytes():
    state = CustomerState("c1")
    ids = [f"order-{i}-" + "x" * 60 for i in range(100)]
    for event_id in ids:
        state.mark_applied(click(event_id, DAY, "s1"), None)
    assert [event_id for event_id in ids if state.has_applied(click(event_id, DAY, "s1"), None)] == ids[-32:]
    assert len(state.recent_event_ids) == 32 * 12, "12 characters per id, whatever the id's length"
    assert json.loads(json.dumps(state.to_list())) == state.to_list()


def test_a_token_found_across_two_remembered_ones_is_not_a_match():
    remembered = "ABCDEFGHIJKL" + "MNOPQRSTUVWX"
    assert _holds_token(remembered, "MNOPQRSTUVWX")
    assert not _holds_token(remembered, "GHIJKLMNOPQR")
    assert _holds_token("xABCDEFGHIJK" + "ABCDEFGHIJKL", "ABCDEFGHIJKL"), "a later aligned copy still counts"


def test_session_counters_follow_the_current_session():
    state = CustomerState("c1")
    clicks = [
        Click("a", "c1", 0, "s1", "view", "p1", None),
        Click("b", "c1", 60_000, "s1", "view", "p2", None),
        Click("c", "c1", 90_000, "s1", "search", None, "/search"),
        Click("d", "c1", 100_000, "s1", "add_to_cart", "p2", None),
        Click("e", "c1", 110_000, "s1", "view", "p2", None),
    ]
    for event in clicks:
        state.apply(event)
    assert state.session_actions == [3, 1, 1, 0, 0]
    assert state.session_product_views == 3 and state.distinct_products == 2
    assert state.session_dwell_ms == 60_000 + 30_000, "time from each product view to the next click"
    state.apply(Click("f", "c1", DAY, "s2", "checkout", None, None))
    assert state.session_actions == [0, 0, 0, 0, 1] and state.distinct_products == 0
    assert (state.session_clicks, state.session_start_ts, state.session_dwell_ms) == (1, DAY, 0)
