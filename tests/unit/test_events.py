import math

import orjson
import pytest

from models.errors import InvalidEvent
from models.events import REASONS, Click, Order, Review, decode_event, parse_event
from tests.badevents import BAD_EVENTS, VALID_CLICK, VALID_ORDER, VALID_REVIEW, _with


def test_valid_events_decode_with_defaults():
    order = decode_event(orjson.dumps(VALID_ORDER), "order")
    assert isinstance(order, Order)
    assert (order.currency, order.status, order.category) == ("USD", "placed", None)
    assert order.ts == 1709287200000
    click = decode_event(orjson.dumps(VALID_CLICK), "click")
    assert isinstance(click, Click) and click.ts == 1709287200000
    review = decode_event(orjson.dumps(VALID_REVIEW), "review")
    assert isinstance(review, Review) and review.ts == 1709287200000 - 3_600_000


def test_log_events_need_their_type():
    with pytest.raises(InvalidEvent) as err:
        parse_event(VALID_ORDER)
    assert err.value.reason == "missing_field"
    assert isinstance(parse_event({**VALID_ORDER, "type": "order"}), Order)


@pytest.mark.parametrize("kind", sorted(BAD_EVENTS))
def test_every_kind_of_bad_event_gets_its_reason(kind):
    topic_type, build, reason = BAD_EVENTS[kind]
    for i in range(3):
        with pytest.raises(InvalidEvent) as err:
            decode_event(build(i), topic_type)
        assert err.value.reason == reason
        assert err.value.reason in REASONS
        assert err.value.message


@pytest.mark.parametrize(
    ("base", "topic", "changes", "reason"),
    [
        (VALID_ORDER, "order", {"amount": "12"}, "wrong_type"),
        (VALID_ORDER, "order", {"amount": True}, "wrong_type"),
        (VALID_ORDER, "order", {"items": 0}, "invalid_value"),
        (VALID_ORDER, "order", {"items": 1.5}, "wrong_type"),
        (VALID_ORDER, "order", {"status": "shipped"}, "invalid_value"),
        (VALID_ORDER, "order", {"currency": "dollars"}, "invalid_value"),
        (VALID_ORDER, "order", {"ts": "2024-03-01T10:00:00"}, "invalid_ts"),
        (VALID_ORDER, "order", {"ts": 10**15}, "invalid_ts"),
        (VALID_ORDER, "order", {"ts": -5}, "invalid_ts"),
        (VALID_ORDER, "order", {"customer_id": ""}, "invalid_value"),
        (VALID_ORDER, "order", {"customer_id": "x" * 129}, "invalid_value"),
        (VALID_ORDER, "order", {"customer_id": {"id": 1}}, "wrong_type"),
        (VALID_ORDER, "order", {"type": "click"}, "type_mismatch"),
        (VALID_CLICK, "click", {"action": "hover"}, "invalid_value"),
        (VALID_REVIEW, "review", {"rating": 0}, "rating_out_of_range"),
        (VALID_REVIEW, "review", {"rating": "5"}, "wrong_type"),
        (VALID_REVIEW, "review", {"text": None}, "missing_field"),
    ],
)
def test_contract_rules(base, topic, changes, reason):
    with pytest.raises(InvalidEvent) as err:
        decode_event(orjson.dumps(_with(base, **changes)), topic)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", "invalid_encoding"),
        (b"[1, 2]", "not_an_object"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),
        (b'{"a": "' + b"x" * (1 << 20) + b'"}', "too_large"),
        (b'{"event_id": "e", "text": "\\ud800"}', "invalid_json"),
    ],
)
def test_hostile_bytes(raw, reason):
    with pytest.raises(InvalidEvent) as err:
        decode_event(raw, "review")
    assert err.value.reason == reason


def test_integer_ids_are_read_as_text_and_zero_amount_is_valid():
    order = decode_event(orjson.dumps(_with(VALID_ORDER, customer_id=17, order_id=9, amount=0)), "order")
    assert order.customer_id == "17" and order.order_id == "9"
    assert math.isclose(order.amount, 0.0)


def test_chinese_review_text_is_kept():
    review = decode_event(orjson.dumps(_with(VALID_REVIEW, text="质量很好，非常满意")), "review")
    assert review.text == "质量很好，非常满意"


def test_the_most_basic_problem_is_reported_first():
    with pytest.raises(InvalidEvent) as err:
        parse_event({"type": "order", "event_id": "x"})
    assert err.value.message == "field 'customer_id' is required"
