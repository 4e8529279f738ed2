"""Settings: one frozen object, read from ``PULSE_*`` variables and an optional TOML file.

Precedence: environment variable, then the TOML file named by ``PULSE_CONFIG``, then
the default. A value that cannot be used stops start-up with a ``ConfigError`` that
names the variable (or file key) and what was wrong.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from models.alert_rules import load_rules
from models.engine import EngineConfig
from models.errors import ConfigError

PREFIX = "PULSE_"
TOPIC_NAMES = ("orders", "clicks", "reviews", "customer-scores", "customer-alerts", "events-dlq", "customer-erasure")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class Secret:
    """A configuration value that must not be printed: its repr and str are masks.

    Log lines, tracebacks with locals, ``repr(settings)`` and the status page only ever
    see ``'***'``; the value is read with ``reveal()`` where a client needs it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


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
    #: How long the broker may hold a fetch waiting for records: on a broker that holds
    #: fetches to the limit (the embedded one can), added to a record's latency.
    fetch_max_wait_ms: int = 100
    max_idle_ms: int = 2000
    commit_interval_ms: int = 1000
    checkpoint_interval_s: int = 60
    #: RocksDB's memory for the state table, all partitions together: block cache and memtables.
    store_memory_mb: int = 64
    log_level: str = "warn"
    #: Alert rule file; the packaged default (models/alert_rules.toml) when unset.
    alert_rules: Path | None = None
    #: Kafka security, passed to Faust and to every Kafka client of the package.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    sasl_password: Secret = field(default_factory=Secret)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: Secret = field(default_factory=Secret)
    #: When set, customer ids in every output are HMAC-SHA256 pseudonyms keyed by it.
    pseudonymise_key: Secret = field(default_factory=Secret)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``) and ``PULSE_CONFIG``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_path = env.get(f"{PREFIX}CONFIG")
        if config_path:
            values.update(_read_toml(Path(config_path)))
        for spec in fields(cls):
            name = PREFIX + spec.name.upper()
            raw = env.get(name)
            if raw is not None and raw != "":
                values[spec.name] = _convert(spec.name, raw, name)
            elif _TYPES[spec.name] in ("Secret", Secret) and env.get(f"{name}_FILE"):
                values[spec.name] = Secret(_read_secret_file(Path(env[f"{name}_FILE"]), f"{name}_FILE"))
        return cls(**values)._validated()

    def _validated(self) -> Settings:
        checks = [
            (self.partitions >= 1, "PULSE_PARTITIONS must be at least 1"),
            (self.replication_factor >= 1, "PULSE_REPLICATION_FACTOR must be at least 1"),
            (0 < self.metrics_port < 65536, "PULSE_METRICS_PORT must be a TCP port (1..65535)"),
            (self.horizon_days >= 1, "PULSE_HORIZON_DAYS must be at least 1"),
            (self.batch_size >= 1, "PULSE_BATCH_SIZE must be at least 1"),
            (1 <= self.fetch_max_wait_ms <= 30_000, "PULSE_FETCH_MAX_WAIT_MS must be 1..30000"),
            (self.store_memory_mb >= 8, "PULSE_STORE_MEMORY_MB must be at least 8"),
            (self.checkpoint_interval_s >= 1, "PULSE_CHECKPOINT_INTERVAL_S must be at least 1"),
            (self.broker.startswith(("kafka://", "aiokafka://")), "PULSE_BROKER must look like kafka://host:port"),
            (
                self.log_level in ("crit", "error", "warn", "info", "debug"),
                "PULSE_LOG_LEVEL must be one of crit, error, warn, info, debug",
            ),
            (
                self.security_protocol in SECURITY_PROTOCOLS,
                f"PULSE_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}",
            ),
            (
                self.sasl_mechanism in SASL_MECHANISMS,
                f"PULSE_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}",
            ),
            (
                not self.security_protocol.startswith("SASL") or bool(self.sasl_username and self.sasl_password),
                f"PULSE_SECURITY_PROTOCOL={self.security_protocol} needs PULSE_SASL_USERNAME and PULSE_SASL_PASSWORD",
            ),
            (
                self.ssl_keyfile is None or self.ssl_certfile is not None,
                "PULSE_SSL_KEYFILE needs PULSE_SSL_CERTFILE (the client certificate it belongs to)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ConfigError(f"{PREFIX}{name.upper()}={path}: no such file")
        if self.alert_rules is not None:
            load_rules(self.alert_rules)  # a bad rule file stops start-up here, naming the line
        return self

    def secrets(self) -> list[str]:
        """Every secret value that is set, for log redaction."""
        return [value.reveal() for value in vars(self).values() if isinstance(value, Secret) and value]

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
        return EngineConfig(
            horizon_days=self.horizon_days,
            seed=self.seed,
            alert_rules=load_rules(self.alert_rules),
            pseudonymise_key=self.pseudonymise_key.reveal().encode(),
        )


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
        if kind in ("Secret", Secret) and isinstance(raw, str):
            return Secret(raw)
    except ValueError as exc:
        raise ConfigError(f"{where} must be an integer, got {raw!r}") from exc
    if not isinstance(raw, str):
        raise ConfigError(f"{where} must be a string, got {raw!r}")
    return raw


def _read_secret_file(path: Path, where: str) -> str:
    """A secret mounted as a file (Docker or Kubernetes secrets); one trailing newline dropped."""
    try:
        return path.read_text(encoding="utf-8").removesuffix("\n")
    except OSError as exc:
        raise ConfigError(f"{where}={path}: cannot read the file ({exc.strerror})") from exc


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
