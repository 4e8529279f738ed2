import pytest

from models.events import parse_event
from models.generator import GeneratorConfig, generate
from models.timeutil import MS_PER_DAY
from models.value import CustomerValue


def test_order_book_counts_one_purchase_per_customer_day():
    value = CustomerValue()
    for hours in (0, 2, 30, 31, 80):
        value.on_order("c1", hours * 3_600_000, 10.0)
    entry = value.book["c1"]
    assert (entry.days, entry.orders, entry.spend) == (3, 5, 50.0)


def test_refits_follow_event_time_and_give_value_scores():
    events, _truth = generate(GeneratorConfig(customers=600, days=240, seed=9))
    value = CustomerValue(horizon_days=90)
    for event in map(parse_event, events):
        if event.type == "order" and event.status == "placed":
            value.on_order(event.customer_id, event.ts, event.amount)
        value.maybe_refit(event.ts)
    assert value.fits >= 20  # weekly over ~6 months after the first 60 days
    scores = value.scores("c00001", parse_event(events[-1]).ts)
    assert set(scores) == {"p_alive", "expected_orders_h", "p_no_order_h", "clv_h"}
    assert 0 <= scores["p_alive"] <= 1 and 0 <= scores["p_no_order_h"] <= 1
    assert scores["clv_h"] >= 0 and scores["expected_orders_h"] >= 0


def test_no_scores_before_enough_history():
    value = CustomerValue(min_customers=1)
    value.on_order("c1", 0, 10.0)
    value.maybe_refit(0)
    value.maybe_refit(30 * MS_PER_DAY)
    assert value.params is None and value.scores("c1", 30 * MS_PER_DAY) == {}
    with pytest.raises(KeyError):
        value.book["c2"]


def test_the_churn_estimate_with_the_better_live_auc_is_published():
    from models.suite import ModelSuite

    suite = ModelSuite()
    for i in range(400):
        label = i % 2 == 0
        suite.current_churn_quality.update(label, 0.2 if label else 0.8)  # classifier ranks backwards
        suite.bgnbd_churn_quality.update(label, 0.9 if label else 0.1)
    suite._choose_churn_champion()
    assert suite.churn_champion == "bgnbd"
    assert suite.quality()["churn_risk_bgnbd"]["published"] == 1.0
    for i in range(10_000):  # the classifier improves, BG/NBD does not
        label = i % 2 == 0
        suite.current_churn_quality.update(label, 0.95 if label else 0.05)
        suite.bgnbd_churn_quality.update(label, 0.6 if i % 3 else 0.4)
    suite._choose_churn_champion()
    assert suite.churn_champion == "classifier"
