from models.engine import Engine, EngineConfig
from models.events import parse_event
from models.features import pack, unpack
from models.generator import GeneratorConfig, generate
from models.labels import Snapshot
from models.suite import CHAMPION_EVERY, ModelSuite
from models.timeutil import MS_PER_DAY


def test_census_labels_cover_quiet_customers_and_are_learnt_at_their_deadline():
    events, _truth = generate(GeneratorConfig(customers=400, days=200, seed=3))
    engine = Engine(EngineConfig(horizon_days=60))
    suite = engine.suite
    learnt: list[tuple[int, int]] = []
    learn = suite._learn

    def spy(snapshot: Snapshot) -> None:
        learnt.append((snapshot.deadline, engine.watermark_ts or 0))
        learn(snapshot)

    suite._learn = spy  # type: ignore[method-assign]
    for event in map(parse_event, events):
        engine.process(event)

    pending = [s for queue in suite.labels.by_customer.values() for s in queue]
    assert len({s.ts for s in pending}) == 60 // 14 + 1, "one census every 14 days inside the open horizon"
    quiet = [s for s in pending if unpack(s.features)["days_since_last_order"] >= 28]
    assert len(quiet) > len(pending) / 4, "the census sees customers who have gone quiet"
    assert learnt and all(deadline <= watermark for deadline, watermark in learnt)
    deadlines = [deadline for deadline, _ in learnt]
    assert deadlines == sorted(deadlines)
    assert suite.churn_quality.count > 0 and suite.bgnbd_churn_quality.count > 0


def _snapshot(n: int, clicks: float, base: float, spend: float) -> Snapshot:
    predictions = {"churn_risk": 0.5, "bgnbd_churn": 0.5, "expected_orders_h": 1.0, "clv_h": base}
    snapshot = Snapshot(f"c{n}", 0, 90 * MS_PER_DAY, pack({"recent_clicks": clicks}), predictions)
    snapshot.orders_after, snapshot.spend_after = (1, spend) if spend else (0, 0.0)
    return snapshot


def test_the_clv_correction_is_published_only_while_it_beats_the_base():
    suite = ModelSuite()
    for n in range(20 * CHAMPION_EVERY):  # browsers spend 3x what orders alone suggest, others half
        clicks = float(n % 2 * 5)
        suite._learn(_snapshot(n, clicks, 100.0, 300.0 if clicks else 50.0))
    assert suite.clv_champion == "corrected"
    quality = suite.quality()
    assert quality["clv_h_corrected"]["mae"] < quality["clv_h"]["mae"] / 4
    assert quality["clv_h_corrected"]["published"] == 1.0

    exact = ModelSuite()
    for n in range(4 * CHAMPION_EVERY):  # the base is exact: nothing to correct
        exact._learn(_snapshot(n, float(n % 2 * 5), 100.0, 100.0))
    assert exact.clv_champion == "base"
