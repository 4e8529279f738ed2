import numpy as np

from models.engine import Engine
from models.events import parse_event
from models.generator import GeneratorConfig, generate
from models.segments import SEGMENTS, RfmCuts, segment


def test_quintile_scores_handle_ties_and_reward_recent_frequent_big_spenders():
    rng = np.random.default_rng(0)
    orders = [1] * 600 + list(rng.integers(2, 20, 400))
    cuts = RfmCuts.from_sample(rng.uniform(0, 300, 1000), orders, rng.gamma(2, 50, 1000))
    assert cuts.frequency[:2] == (1.0, 1.0)
    assert cuts.scores(0.0, 1, 0.0)[:2] == (5, 1), "one-order buyers all get F = 1"
    assert cuts.scores(400.0, 30, 10_000.0) == (1, 5, 5)
    assert [cuts.scores(days, 2, 1.0)[0] for days in (10, 100, 200, 299)] == [5, 4, 2, 1]


def test_every_rfm_combination_maps_to_a_documented_segment():
    seen = {
        segment(r, f, m, orders) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6) for orders in (1, 5)
    }
    assert seen == set(SEGMENTS)


def test_cut_points_from_the_census_sample_match_the_whole_population():
    events, _truth = generate(GeneratorConfig(customers=1500, days=100, seed=4))
    engine = Engine()
    engine.suite.census.max_customers = 500  # a sample of about a third of the buyers
    for number, event in enumerate(map(parse_event, events)):
        before = engine.suite.rfm_cuts
        engine.process(event)
        if number > len(events) // 2 and engine.suite.rfm_cuts is not before:
            break  # a census was just taken, before this event was applied
    cuts = engine.suite.rfm_cuts
    assert cuts is not None and 250 <= cuts.buyers <= 500
    buyers = [s for s in engine.states.values() if s.orders and s.customer_id != event.customer_id]
    exact = np.quantile([s.spend for s in buyers], [0.2, 0.4, 0.6, 0.8])
    assert np.allclose(cuts.monetary, exact, rtol=0.1)
    assert cuts.buyers < len(buyers) / 2


def test_score_records_carry_the_segment_and_its_changes():
    events, _truth = generate(GeneratorConfig(customers=500, days=150, seed=5))
    engine = Engine()
    changes = 0
    for event in map(parse_event, events):
        scores = engine.process(event)[0].value["scores"]
        assert scores["segment"] is None or scores["segment"] in SEGMENTS
        if scores["segment_changed"]:
            changes += 1
            assert scores["previous_segment"] != scores["segment"]
    final = {s.segment for s in engine.states.values() if s.orders}
    assert changes > 0 and len(final) >= 6
