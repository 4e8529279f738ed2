import logging

import pytest

from models.checkpoint import read_checkpoint, restore_or_fresh, save_checkpoint
from models.engine import Engine, EngineConfig
from models.errors import CheckpointError
from models.events import parse_event
from models.generator import GeneratorConfig, generate
from models.jsonio import dumps, loads
from models.state import CustomerState


@pytest.fixture(scope="module")
def trained():
    events, _ = generate(GeneratorConfig(customers=300, days=200, seed=5))
    engine = Engine(EngineConfig(horizon_days=30))
    parsed = [parse_event(event) for event in events]
    cut = int(len(parsed) * 0.8)
    for event in parsed[:cut]:
        engine.process(event, emitted_at=0)
    return engine, parsed[cut:]


def test_round_trip_gives_identical_scores(tmp_path, trained):
    engine, rest = trained
    assert engine.suite.churn.warm, "the fixture should have trained the churn model"
    path = tmp_path / "models" / "suite.ckpt"
    info = save_checkpoint(engine.suite, path, events=123, written_at_ms=0)
    assert info.events == 123 and path.exists() and not path.with_suffix(".ckpt.tmp").exists()
    suite, _info = read_checkpoint(path, horizon_days=30, seed=42)

    def copy_states():  # through JSON bytes, as the worker's table stores them
        return {key: CustomerState.from_list(loads(dumps(state.to_list()))) for key, state in engine.states.items()}

    engines = [Engine(engine.config, copy_states(), suite), Engine(engine.config, copy_states(), engine.suite)]
    for copy in engines:
        copy.watermark_ts = engine.watermark_ts
    outputs = [[out.value for event in rest for out in copy.process(event, emitted_at=0)] for copy in engines]
    assert outputs[0] == outputs[1]
    assert any(record["scores"]["churn_risk"] is not None for record in outputs[0])


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"garbage", "not a customer-pulse checkpoint"), (b"PULSECKPT\x80\x05trunc", "unreadable or corrupt")],
)
def test_corrupt_checkpoints_are_reported_and_ignored(tmp_path, caplog, content, fragment):
    path = tmp_path / "suite.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=fragment):
        read_checkpoint(path, 90, 42)
    with caplog.at_level(logging.WARNING):
        suite, info = restore_or_fresh(path, 90, 42)
    assert not info["restored"] and suite.churn.labels_seen == 0
    assert "ignoring model checkpoint" in caplog.text


def test_checkpoint_from_other_settings_is_incompatible(tmp_path, trained):
    engine, _ = trained
    path = tmp_path / "suite.ckpt"
    save_checkpoint(engine.suite, path, events=1, written_at_ms=0)
    with pytest.raises(CheckpointError, match="horizon 30 days"):
        read_checkpoint(path, horizon_days=90, seed=42)
    suite, info = restore_or_fresh(path, 30, 42)
    assert info["restored"] and suite.churn.warm


def test_missing_checkpoint_starts_fresh_quietly(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _suite, info = restore_or_fresh(tmp_path / "none.ckpt", 90, 42)
    assert not info["restored"] and caplog.text == ""
