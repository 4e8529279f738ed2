import json
from pathlib import Path

import jsonschema
import pytest

from models.alert_rules import load_rules, parse_rules
from models.alerts import LIVE_MIN, Alerting
from models.errors import ConfigError
from models.events import Click, Order, Review
from models.state import CustomerState

HOUR, DAY = 3_600_000, 86_400_000
SCHEMA = json.loads((Path(__file__).parents[2] / "models/schemas/customer-alert.schema.json").read_text())


def alerting(**overrides: str) -> Alerting:
    """The default rules, with the live CLV distribution 1..1000 (p90 = 900, p99 = 990)."""
    engine_alerting = Alerting(load_rules())
    for value in range(1, 1001):
        engine_alerting.live["clv_h"].update(float(value))
    engine_alerting.anomaly_scores.update({"order": LIVE_MIN, "click": LIVE_MIN})
    return engine_alerting


def scores(**values):
    base = {"churn_risk": 0.1, "churn_reasons": ["days_since_last_order=63 (usual gap 14)"], "clv_h": 100.0}
    base.update(values)
    return base


def order(n: int, ts: int) -> Order:
    return Order(f"e{n}", "c1", ts, f"o{n}", 900.0, "USD", 3, None, "placed")


def click(n: int, ts: int, session: str = "s1") -> Click:
    return Click(f"k{n}", "c1", ts, session, "view", "p1", None)


def review(n: int, ts: int, rating: int, text: str = "fell apart after one wash") -> Review:
    return Review(f"r{n}", "c1", ts, "p7", rating, text)


def fired(engine_alerting: Alerting, state: CustomerState, event, values) -> list[str]:
    alerts = engine_alerting.evaluate(state, event, values, 0)
    for alert in alerts:
        jsonschema.validate(alert, SCHEMA)
    return [alert["rule"] for alert in alerts]


def test_churn_risk_vip_raises_once_per_crossing_with_hysteresis_and_cooldown():
    rules, state = alerting(), CustomerState("c1")
    vip = 950.0
    assert fired(rules, state, click(1, 0), scores(churn_risk=0.41, clv_h=vip)) == []
    alerts = rules.evaluate(state, click(2, DAY), scores(churn_risk=0.82, clv_h=vip), 0)
    assert [a["rule"] for a in alerts] == ["churn_risk_vip"]
    assert alerts[0]["reason"].startswith("churn risk 0.82, was 0.41: days_since_last_order=63 (usual gap 14)")
    assert alerts[0]["severity"] == "critical" and alerts[0]["threshold"] == 0.7
    assert fired(rules, state, click(3, 2 * DAY), scores(churn_risk=0.9, clv_h=vip)) == [], "still raised"
    assert fired(rules, state, click(4, 3 * DAY), scores(churn_risk=0.6, clv_h=vip)) == []
    assert fired(rules, state, click(5, 4 * DAY), scores(churn_risk=0.8, clv_h=vip)) == [], "0.6 did not clear"
    assert fired(rules, state, click(6, 5 * DAY), scores(churn_risk=0.4, clv_h=vip)) == []  # cleared
    assert fired(rules, state, click(7, 6 * DAY), scores(churn_risk=0.8, clv_h=vip)) == [], "within 30-day cooldown"
    assert rules.stats[("churn_risk_vip", "cooldown")] == 1
    assert fired(rules, state, click(8, 40 * DAY), scores(churn_risk=0.3, clv_h=vip)) == []
    assert fired(rules, state, click(9, 41 * DAY), scores(churn_risk=0.8, clv_h=vip)) == ["churn_risk_vip"]


def test_a_customer_state_keeps_rule_memory_only_for_rules_that_remember_something():
    """Most customers never come near most rules: their stored state carries no memory of those."""
    rules, state = alerting(), CustomerState("c1")
    assert fired(rules, state, click(1, 0), scores(churn_risk=None)) == []
    assert state.alerts == {}
    assert fired(rules, state, click(2, DAY), scores(churn_risk=0.41)) == []
    assert state.alerts == {"churn_risk_vip": [False, None, 0.41, None, None]}, "the last risk, for 'was'"
    state.apply(order(0, DAY))
    anomalous = scores(churn_risk=None, anomaly=0.97, anomaly_threshold=0.8)
    assert fired(rules, state, order(3, 2 * DAY), anomalous) == ["anomalous_order"]
    assert set(state.alerts) == {"anomalous_order"}
    assert fired(rules, state, order(4, 2 * DAY + HOUR // 2), anomalous) == [], "its memory still holds"


def test_churn_risk_vip_ignores_customers_outside_the_top_clv_decile():
    rules, state = alerting(), CustomerState("c1")
    assert fired(rules, state, click(1, 0), scores(churn_risk=0.95, clv_h=500.0)) == []


def test_percentile_and_model_thresholds_wait_for_enough_live_values():
    rules, state = Alerting(load_rules()), CustomerState("c1")
    for value in range(LIVE_MIN - 2):
        rules.live["clv_h"].update(float(value))
    assert fired(rules, state, click(1, 0), scores(churn_risk=0.95, clv_h=10_000.0)) == []
    assert fired(rules, state, order(2, 0), scores(anomaly=0.99, anomaly_threshold=0.8)) == []
    rules.anomaly_scores["order"] = LIVE_MIN
    assert fired(rules, state, order(3, 0), scores(anomaly=0.99, anomaly_threshold=0.8)) == ["anomalous_order"]


def test_high_value_customer_fires_on_entering_the_top_percentile():
    rules, state = alerting(), CustomerState("c1")
    assert fired(rules, state, click(1, 0), scores(clv_h=980.0)) == []
    alerts = rules.evaluate(state, click(2, DAY), scores(clv_h=2000.0), 0)
    assert [a["rule"] for a in alerts] == ["high_value_customer"]
    assert "enters the top 1%" in alerts[0]["reason"]
    assert fired(rules, state, click(3, 2 * DAY), scores(clv_h=985.0)) == [], "above p97: still raised"


def test_anomalous_order_once_per_situation_and_cooldown():
    rules, state = alerting(), CustomerState("c1")
    state.apply(order(0, 0))
    anomalous = scores(anomaly=0.97, anomaly_threshold=0.8)
    alerts = rules.evaluate(state, order(1, DAY), anomalous, 0)
    assert [a["rule"] for a in alerts] == ["anomalous_order"]
    assert alerts[0]["dedupe_key"] == "anomalous_order:c1:order:o1" and "$900.00" in alerts[0]["reason"]
    assert fired(rules, state, order(2, DAY + HOUR // 2), anomalous) == [], "a second huge order within the hour"
    assert fired(rules, state, order(3, DAY + 2 * HOUR), scores(anomaly=0.5, anomaly_threshold=0.8)) == []
    assert fired(rules, state, order(4, DAY + 3 * HOUR), anomalous) == ["anomalous_order"]


def test_click_burst_alerts_once_per_session_once_it_looks_like_a_burst():
    rules, state = alerting(), CustomerState("c1")
    burst = scores(anomaly=0.99, anomaly_threshold=0.9)

    def clicked(event: Click) -> list[str]:
        state.apply(event)
        return fired(rules, state, event, burst)

    sent = [(n, rule) for n in range(300) for rule in clicked(click(n, n * 300))]
    assert sent == [(19, "click_burst")], "at the 20th click of the session"
    later = [rule for n in range(5) for rule in clicked(click(400 + n, 5 * HOUR + n))]
    assert later == [], "the same session after the cooldown is the same situation"
    second = [rule for n in range(30) for rule in clicked(click(500 + n, 6 * HOUR + n, session="s2"))]
    assert second == ["click_burst"]


def test_unhappy_vip_on_a_low_rating_or_negative_sentiment():
    rules, state = alerting(), CustomerState("c1")
    assert fired(rules, state, review(1, 0, 5), scores(clv_h=950.0, review_sentiment=0.9)) == []
    assert fired(rules, state, review(2, DAY, 1), scores(clv_h=500.0, review_sentiment=0.1)) == [], "not a VIP"
    alerts = rules.evaluate(state, review(3, 2 * DAY, 3), scores(clv_h=950.0, review_sentiment=0.1), 0)
    assert [a["rule"] for a in alerts] == ["unhappy_vip"]
    assert '"fell apart after one wash"' in alerts[0]["reason"]
    other = CustomerState("c2")
    assert fired(rules, other, review(4, 0, 2), scores(clv_h=950.0)) == ["unhappy_vip"], "no sentiment: the rating"


def test_segment_drop_from_champions_or_loyal_to_at_risk_or_lost():
    rules, state = alerting(), CustomerState("c1")
    assert fired(rules, state, click(1, 0), scores(previous_segment="loyal", segment="needs_attention")) == []
    drop = scores(previous_segment="champions", segment="lost", recency_days=120.0)
    alerts = rules.evaluate(state, click(2, DAY), drop, 0)
    assert [a["rule"] for a in alerts] == ["segment_drop"]
    assert alerts[0]["reason"].startswith("segment champions -> lost: 120 days since the last order")


def test_a_redelivered_event_resends_the_same_alert():
    rules, state = alerting(), CustomerState("c1")
    (alert,) = rules.evaluate(state, order(1, 0), scores(anomaly=0.97, anomaly_threshold=0.8), 0)
    (again,) = rules.replay(state, order(1, 0), 5_000)
    assert again == {**alert, "emitted_at": "1970-01-01T00:00:05.000Z"}, "the record first sent, stamped anew"
    assert rules.replay(state, order(2, 0), 5_000) == []


BAD_RULE_FILES = [
    ("[churn_risk_vip]\nraise = 0.7\nclear = 0.5\nvip = 'p90'\n\n[vip_churn]\n", "line 6: unknown rule 'vip_churn'"),
    ("[click_burst]\nraise = 'model'\ncooldown = 2\n", "line 3: rule 'click_burst': unknown field 'cooldown'"),
    ("[churn_risk_vip]\nraise = 1.5\nclear = 0.5\nvip = 'p90'\n", "line 2: rule 'churn_risk_vip': raise = 1.5"),
    ("[high_value_customer]\nraise = 'p150'\nclear = 'p97'\n", "line 2: .*raise = 'p150' is not a number"),
    ("[high_value_customer]\nraise = 'p97'\nclear = 'p99'\n", "line 3: .*clear = p99 is above raise = p97"),
    ("[churn_risk_vip]\nraise = 0.7\nclear = 'p50'\nvip = 'p90'\n", "both be numbers or both be percentiles"),
    ("[anomalous_order]\nraise = 'model'\nseverity = 'urgent'\n", "line 3: .*severity 'urgent' is not one of"),
    ("[segment_drop]\nfrom = ['champions']\nto = ['gone']\n", "line 3: rule 'segment_drop': 'to' must be a list"),
    ("[unhappy_vip]\nmax_rating = 2\n", "line 1: rule 'unhappy_vip': missing field 'vip'"),
    ("[high_value_customer\n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_RULE_FILES)
def test_a_bad_rule_file_is_refused_naming_the_line_and_the_problem(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_rules(text, "rules.toml")


def test_disabled_and_left_out_rules_are_off_and_a_missing_file_is_named(tmp_path):
    rules = parse_rules("[click_burst]\nraise = 'model'\n\n[anomalous_order]\nraise = 0.9\nenabled = false\n", "x")
    assert list(rules.rules) == ["click_burst"]
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read"):
        load_rules(tmp_path / "nope.toml")


def test_the_default_rule_file_holds_every_rule():
    assert sorted(load_rules().rules) == sorted(SCHEMA["properties"]["rule"]["enum"])


def test_alerts_print_as_one_aligned_line():
    from stream.alerts_tail import format_alert

    line = format_alert(
        {
            "ts": "2024-03-01T10:00:00.000Z",
            "severity": "critical",
            "rule": "churn_risk_vip",
            "customer_id": "c42",
            "reason": "churn risk 0.82, was 0.41",
        }
    )
    assert line == "2024-03-01T10:00:00.000Z !! critical  churn_risk_vip       c42         churn risk 0.82, was 0.41"


def test_an_alert_kept_by_a_version_3_state_is_still_resent():
    """Version 3 kept the last alert as the record itself, and sessions and products as lists."""
    rules, state = alerting(), CustomerState("c1")
    (alert,) = rules.evaluate(state, order(1, 0), scores(anomaly=0.97, anomaly_threshold=0.8), 0)
    fields = dict(zip(CustomerState.__slots__, state.to_list()[1:], strict=True))
    kept = {rule: [*kept[:-1], json.loads(kept[-1]) if kept[-1] else None] for rule, kept in state.alerts.items()}
    assert kept["anomalous_order"][-1] == alert
    v3 = fields | {"recent_sessions": [], "session_products": [], "alerts": kept}
    decoded = CustomerState.from_list([3, *v3.values()])
    assert decoded == state
    (again,) = rules.replay(decoded, order(1, 0), 5_000)
    assert again == {**alert, "emitted_at": "1970-01-01T00:00:05.000Z"}
