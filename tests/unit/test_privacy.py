"""Pseudonymous outputs and erasure of one customer, on the engine itself."""

from __future__ import annotations

import pickle

import pytest

from models.engine import Engine, EngineConfig
from models.events import parse_event
from models.generator import GeneratorConfig, generate
from models.jsonio import dumps
from models.privacy import Pseudonymiser

KEY = b"pseudonymisation-key"


@pytest.fixture(scope="module")
def events():
    raw, _truth = generate(GeneratorConfig(customers=200, days=150, seed=5, anomaly_rate=0.02, burst_rate=0.02))
    return [parse_event(event) for event in raw]


def run(events, key: bytes = b"") -> tuple[Engine, list]:
    engine = Engine(EngineConfig(pseudonymise_key=key))
    outputs = [output for event in events for output in engine.process(event, emitted_at=0)]
    return engine, outputs


def test_pseudonyms_replace_every_customer_id_and_nothing_else(events):
    _plain_engine, plain = run(events)
    _engine, hidden = run(events, KEY)
    pseudonym = Pseudonymiser(KEY).pseudonym
    assert len(plain) == len(hidden) and sum(o.kind == "alert" for o in plain) > 10
    for before, after in zip(plain, hidden, strict=True):
        assert after.key == after.value["customer_id"] == pseudonym(before.key)
        # The generator's session ids embed the customer id ("s<id>-b2"): ids inside fields
        # a producer fills are the producer's to choose, so only they may still show it.
        assert before.key not in dumps(after.value).decode().replace(f"s{before.key}-", "")
        if before.kind == "score":
            assert after.value == {**before.value, "customer_id": after.key}
        else:
            assert after.value["dedupe_key"] == before.value["dedupe_key"].replace(before.key, after.key, 1)
            assert after.value["alert_id"] != before.value["alert_id"]
            unchanged = {"alert_id", "dedupe_key", "customer_id"}
            assert {k: v for k, v in after.value.items() if k not in unchanged} == {
                k: v for k, v in before.value.items() if k not in unchanged
            }


def test_pseudonyms_depend_on_the_key():
    assert Pseudonymiser(b"a").pseudonym("c-1") != Pseudonymiser(b"b").pseudonym("c-1")
    assert "a" not in repr(Pseudonymiser(b"a"))
    with pytest.raises(ValueError):
        Pseudonymiser(b"")


def test_dead_letters_lose_their_raw_bytes_only():
    record = {"reason": "invalid_json", "raw": '{"customer_id": "c-1"', "raw_bytes": 21, "offset": 4}
    assert Pseudonymiser.dead_letter(record) == {**record, "raw": ""}


def test_forget_erases_the_customer_from_state_and_every_model(events):
    engine, _outputs = run(events[: len(events) // 2])
    suite = engine.suite
    # A customer the models hold in every per-customer structure at once, if there is one.
    held = {
        customer
        for customer in engine.states
        if customer in suite.labels.by_customer and customer in suite.value.book and customer in suite.census.entries
    }
    assert held, "the fixture should leave customers in every per-customer structure"
    customer = sorted(held)[0]
    sizes = (suite.labels.size, len(suite.value.book), len(suite.census.entries))

    assert engine.forget(customer) == customer
    assert customer not in engine.states
    assert customer not in suite.labels.by_customer and customer not in suite.value.book
    assert customer not in suite.census.entries and customer not in suite.open_sessions.by_customer
    assert suite.labels.size < sizes[0] and len(suite.value.book) == sizes[1] - 1
    assert len(suite.census.entries) == sizes[2] - 1
    assert engine.stats.erased == 1
    assert customer.encode() not in pickle.dumps(suite), "a checkpoint would still hold the id"

    # The engine goes on: the rest of the log scores, the erased customer starts afresh.
    for event in events[len(events) // 2 :]:
        engine.process(event, emitted_at=0)
    later = [event for event in events[len(events) // 2 :] if event.customer_id == customer]
    if later:
        assert engine.states[customer].orders <= sum(1 for event in later if event.type == "order")


def test_forget_of_a_session_in_progress_and_an_unknown_customer(events):
    engine, _outputs = run(events[:3000])
    open_customers = sorted(engine.suite.open_sessions.by_customer)
    assert open_customers
    size = engine.suite.open_sessions.size
    engine.forget(open_customers[0])
    assert engine.suite.open_sessions.size < size
    assert all(entry[1] != open_customers[0] for entry in engine.suite.open_sessions._deadlines)
    assert Engine(EngineConfig(pseudonymise_key=KEY)).forget("nobody") == Pseudonymiser(KEY).pseudonym("nobody")


def test_forget_leaves_no_deadline_of_a_session_an_order_closed(events):
    engine, _outputs = run(events[:3000])
    ts = engine.watermark_ts
    click = {"type": "click", "customer_id": "zz-erase", "session_id": "s-zz", "action": "view"}
    order = {"type": "order", "customer_id": "zz-erase", "order_id": "o-zz", "amount": 20.0, "items": 1}
    engine.process(parse_event({**click, "event_id": "zz-1", "ts": ts}), emitted_at=0)
    engine.process(parse_event({**order, "event_id": "zz-2", "ts": ts + 1000}), emitted_at=0)
    assert "zz-erase" not in engine.suite.open_sessions.by_customer  # closed by the order ...
    assert b"zz-erase" in pickle.dumps(engine.suite)  # ... its deadline still queued
    engine.forget("zz-erase")
    assert b"zz-erase" not in pickle.dumps(engine.suite)
