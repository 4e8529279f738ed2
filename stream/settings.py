"""Settings: one frozen object, read from ``PULSE_*`` variables and an optional TOML file.

Precedence: environment variable, then the TOML file named by ``PULSE_CONFIG``, then
the default. A value that cannot be used stops start-up with a ``ConfigError`` that
names the variable (or file key) and what was wrong.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from models.alert_rules import load_rules
from models.engine import EngineConfig
from models.errors import ConfigError

PREFIX = "PULSE_"
TOPIC_NAMES = ("orders", "clicks", "reviews", "customer-scores", "customer-alerts", "events-dlq")


@dataclass(frozen=True)
class Settings:
    """Everything a worker, a replay or a demo needs to know about its environment."""

    broker: str = "kafka://localhost:9092"
    data_dir: Path = Path("./pulse-data")
    partitions: int = 8
    replication_factor: int = 1
    topic_prefix: str = ""
    app_id: str = "customer-pulse"
    metrics_port: int = 9108
    horizon_days: int = 90
    seed: int = 42
    batch_size: int = 1000
    batch_linger_ms: int = 20
    max_idle_ms: int = 2000
    commit_interval_ms: int = 1000
    checkpoint_interval_s: int = 60
    log_level: str = "warn"
    #: Alert rule file; the packaged default (models/alert_rules.toml) when unset.
    alert_rules: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``) and ``PULSE_CONFIG``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_path = env.get(f"{PREFIX}CONFIG")
        if config_path:
            values.update(_read_toml(Path(config_path)))
        for spec in fields(cls):
            raw = env.get(PREFIX + spec.name.upper())
            if raw is not None and raw != "":
                values[spec.name] = _convert(spec.name, raw, f"{PREFIX}{spec.name.upper()}")
        return cls(**values)._validated()

    def _validated(self) -> Settings:
        checks = [
            (self.partitions >= 1, "PULSE_PARTITIONS must be at least 1"),
            (self.replication_factor >= 1, "PULSE_REPLICATION_FACTOR must be at least 1"),
            (0 < self.metrics_port < 65536, "PULSE_METRICS_PORT must be a TCP port (1..65535)"),
            (self.horizon_days >= 1, "PULSE_HORIZON_DAYS must be at least 1"),
            (self.batch_size >= 1, "PULSE_BATCH_SIZE must be at least 1"),
            (self.checkpoint_interval_s >= 1, "PULSE_CHECKPOINT_INTERVAL_S must be at least 1"),
            (self.broker.startswith(("kafka://", "aiokafka://")), "PULSE_BROKER must look like kafka://host:port"),
            (
                self.log_level in ("crit", "error", "warn", "info", "debug"),
                "PULSE_LOG_LEVEL must be one of crit, error, warn, info, debug",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        if self.alert_rules is not None:
            load_rules(self.alert_rules)  # a bad rule file stops start-up here, naming the line
        return self

    def topic(self, name: str) -> str:
        """Full topic name for one of ``TOPIC_NAMES`` (or an internal topic)."""
        return f"{self.topic_prefix}{name}"

    @property
    def group_id(self) -> str:
        """Consumer group and Faust app id: one per topic prefix, so test runs never share state."""
        return f"{self.topic_prefix}{self.app_id}"

    @property
    def bootstrap_servers(self) -> str:
        """``host:port,...`` for plain Kafka clients."""
        return ",".join(url.split("://", 1)[-1] for url in self.broker.split(";"))

    @property
    def checkpoint_path(self) -> Path:
        return self.data_dir / "models" / "suite.ckpt"

    def engine_config(self) -> EngineConfig:
        """Engine hyperparameters and alert rules (a bad rule file raises ``ConfigError``)."""
        return EngineConfig(horizon_days=self.horizon_days, seed=self.seed, alert_rules=load_rules(self.alert_rules))


_TYPES = {spec.name: spec.type for spec in fields(Settings)}


def _convert(name: str, raw: Any, where: str) -> Any:
    kind = _TYPES[name]
    try:
        if kind in ("int", int):
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if kind in ("Path", Path, "Path | None"):
            return Path(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{where} must be an integer, got {raw!r}") from exc
    if not isinstance(raw, str):
        raise ConfigError(f"{where} must be a string, got {raw!r}")
    return raw


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"PULSE_CONFIG={path}: cannot read the file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"PULSE_CONFIG={path}: not valid TOML ({exc})") from exc
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in _TYPES:
            raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(_TYPES))})")
        values[key] = _convert(key, raw, f"{path}: {key}")
    return values
