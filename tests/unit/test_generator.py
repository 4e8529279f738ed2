from collections import Counter, defaultdict
from datetime import datetime
from statistics import mean

import pytest

from models.events import parse_event
from models.generator import GeneratorConfig, generate

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def log():
    return generate(GeneratorConfig(customers=1500, days=180, seed=3, anomaly_rate=0.01, burst_rate=0.01))


def _ms(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def test_same_seed_same_log_other_seed_other_log():
    small = GeneratorConfig(customers=50, days=30, seed=1)
    assert generate(small) == generate(small)
    assert generate(small)[0] != generate(GeneratorConfig(customers=50, days=30, seed=2))[0]


def test_every_event_is_valid_sorted_and_uniquely_identified(log):
    events, _truth = log
    for event in events:
        parse_event(event)
    times = [_ms(event["ts"]) for event in events]
    assert times == sorted(times)
    assert len({event["event_id"] for event in events}) == len(events)


def test_mix_of_event_types_and_languages(log):
    events, _truth = log
    share = {kind: count / len(events) for kind, count in Counter(e["type"] for e in events).items()}
    assert 0.7 <= share["click"] <= 0.88 and 0.1 <= share["order"] <= 0.25 and 0.02 <= share["review"] <= 0.08
    texts = [e["text"] for e in events if e["type"] == "review"]
    chinese = [t for t in texts if any("\u4e00" <= ch <= "\u9fff" for ch in t)]
    assert 0.25 < len(chinese) / len(texts) < 0.55
    assert all(" " not in t for t in chinese)


def test_orders_follow_a_checkout_in_the_same_customers_session(log):
    events, _truth = log
    last_checkout: dict[str, int] = {}
    for event in events:
        if event["type"] == "click" and event["action"] == "checkout":
            last_checkout[event["customer_id"]] = _ms(event["ts"])
        elif event["type"] == "order" and event["status"] == "placed":
            assert _ms(event["ts"]) - last_checkout[event["customer_id"]] < 60 * 60_000


def test_ratings_drop_before_a_dropout(log):
    events, truth = log
    leaving, staying = [], []
    for event in events:
        if event["type"] != "review":
            continue
        dropout = truth["customers"][event["customer_id"]]["dropout_ts"]
        if dropout is None:
            staying.append(event["rating"])
        elif _ms(dropout) - 60 * DAY_MS <= _ms(event["ts"]) <= _ms(dropout) + 15 * DAY_MS:
            leaving.append(event["rating"])
    assert len(leaving) > 30
    assert mean(leaving) < mean(staying) - 0.8


def test_dropouts_never_order_again(log):
    events, truth = log
    for event in events:
        dropout = truth["customers"][event["customer_id"]]["dropout_ts"]
        if event["type"] == "order" and event["status"] == "placed" and dropout is not None:
            assert _ms(event["ts"]) <= _ms(dropout) + 60 * 60_000


def test_injected_anomalies_are_far_above_the_customers_usual(log):
    events, truth = log
    flagged = set(truth["anomalous_orders"])
    assert len(flagged) > 20
    normal = defaultdict(list)
    for event in events:
        if event["type"] == "order" and event["status"] == "placed" and event["event_id"] not in flagged:
            normal[event["customer_id"]].append(event["amount"])
    ratios = [
        e["amount"] / (sorted(normal[e["customer_id"]])[len(normal[e["customer_id"]]) // 2])
        for e in events
        if e["event_id"] in flagged and normal[e["customer_id"]]
    ]
    assert sorted(ratios)[len(ratios) // 2] > 5


def test_bursts_are_long_and_fast(log):
    events, truth = log
    sessions, bursts = defaultdict(list), set(truth["anomalous_sessions"])
    for event in events:
        if event["type"] == "click" and event["session_id"] in bursts:
            sessions[event["session_id"]].append(_ms(event["ts"]))
    assert sessions
    for times in sessions.values():
        assert len(times) >= 100
        assert (times[-1] - times[0]) / (len(times) - 1) < 1000


def test_cancellations_refer_to_an_earlier_placed_order(log):
    events, _truth = log
    placed = {}
    for event in events:
        if event["type"] == "order" and event["status"] == "placed":
            placed[event["order_id"]] = event
        elif event["type"] == "order":
            original = placed[event["order_id"]]
            assert original["customer_id"] == event["customer_id"] and original["amount"] == event["amount"]
