from pathlib import Path

import pytest

from models.errors import ConfigError
from stream.settings import Settings


def test_defaults_match_the_design():
    settings = Settings.from_env({})
    assert settings.broker == "kafka://localhost:9092"
    assert settings.data_dir == Path("./pulse-data")
    assert (settings.partitions, settings.metrics_port, settings.horizon_days) == (8, 9108, 90)
    assert settings.topic("orders") == "orders"


def test_environment_overrides_and_prefix():
    settings = Settings.from_env(
        {"PULSE_BROKER": "kafka://127.0.0.1:1", "PULSE_PARTITIONS": "3", "PULSE_TOPIC_PREFIX": "shop-"}
    )
    assert settings.bootstrap_servers == "127.0.0.1:1"
    assert settings.topic("events-dlq") == "shop-events-dlq"
    assert settings.group_id == "shop-customer-pulse"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PULSE_PARTITIONS": "eight"}, "PULSE_PARTITIONS must be an integer"),
        ({"PULSE_PARTITIONS": "0"}, "PULSE_PARTITIONS must be at least 1"),
        ({"PULSE_METRICS_PORT": "70000"}, "PULSE_METRICS_PORT"),
        ({"PULSE_BROKER": "localhost:9092"}, "kafka://host:port"),
        ({"PULSE_SEED": "forty-two"}, "PULSE_SEED must be an integer, got 'forty-two'"),
        ({"PULSE_FETCH_MAX_WAIT_MS": "0"}, "PULSE_FETCH_MAX_WAIT_MS must be 1..30000"),
    ],
)
def test_bad_values_name_the_variable(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env(env)


def test_toml_file_with_env_precedence(tmp_path):
    config = tmp_path / "pulse.toml"
    config.write_text('partitions = 4\ntopic_prefix = "a-"\nseed = 7\n')
    settings = Settings.from_env({"PULSE_CONFIG": str(config), "PULSE_TOPIC_PREFIX": "b-"})
    assert (settings.partitions, settings.topic_prefix, settings.seed) == (4, "b-", 7)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("partitons = 4\n", "unknown setting 'partitons'"),
        ("partitions = \n", "not valid TOML"),
        ('partitions = "x"\n', "partitions must be an integer"),
    ],
)
def test_bad_toml_files_are_named(tmp_path, text, fragment):
    config = tmp_path / "pulse.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as err:
        Settings.from_env({"PULSE_CONFIG": str(config)})
    assert str(config) in str(err.value)


def test_missing_toml_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.from_env({"PULSE_CONFIG": str(tmp_path / "nope.toml")})
