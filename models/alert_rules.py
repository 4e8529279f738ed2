"""Alert rule files: parsing and validation, with errors that name the line.

The rule set is TOML (``models/alert_rules.toml`` is the documented default). Each table
is one rule, named after one of the built-in rule kinds; its fields are checked against
that kind, so a typo stops start-up instead of silently disabling a rule.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import ConfigError
from models.segments import SEGMENTS

DEFAULT_RULES = Path(__file__).with_name("alert_rules.toml")
SEVERITIES = ("info", "warning", "critical")
COMMON_FIELDS = {"severity", "cooldown_hours", "enabled"}
#: Rule kind -> its own fields (beyond the common ones) and which of them are thresholds.
RULE_FIELDS: dict[str, set[str]] = {
    "churn_risk_vip": {"raise", "clear", "vip"},
    "high_value_customer": {"raise", "clear"},
    "anomalous_order": {"raise"},
    "click_burst": {"raise", "min_session_clicks"},
    "unhappy_vip": {"max_rating", "max_sentiment", "vip"},
    "segment_drop": {"from", "to"},
}
REQUIRED_FIELDS: dict[str, set[str]] = {
    "churn_risk_vip": {"raise", "clear", "vip"},
    "high_value_customer": {"raise", "clear"},
    "anomalous_order": {"raise"},
    "click_burst": {"raise"},
    "unhappy_vip": {"vip"},
    "segment_drop": {"from", "to"},
}
#: (rule, threshold field) -> the score it is compared with; its live distribution
#: gives percentile thresholds their value. Anomaly scores are tracked per event type.
THRESHOLD_SCORES = {
    ("churn_risk_vip", "raise"): "churn_risk",
    ("churn_risk_vip", "clear"): "churn_risk",
    ("churn_risk_vip", "vip"): "clv_h",
    ("high_value_customer", "raise"): "clv_h",
    ("high_value_customer", "clear"): "clv_h",
    ("anomalous_order", "raise"): "order_anomaly",
    ("click_burst", "raise"): "click_anomaly",
    ("unhappy_vip", "vip"): "clv_h",
    ("unhappy_vip", "max_sentiment"): "review_sentiment",
}
#: Scores that are probabilities: absolute thresholds on them must lie in [0, 1].
PROBABILITIES = {"churn_risk", "order_anomaly", "click_anomaly", "review_sentiment"}
#: Fields that are neither common nor thresholds: kept as the rule's options.
OPTION_FIELDS = ("max_rating", "min_session_clicks", "from", "to")
MODEL_THRESHOLD_RULES = {"anomalous_order", "click_burst"}
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


@dataclass(frozen=True)
class Threshold:
    """An absolute value, a percentile of the live score distribution, or the model's own."""

    text: str
    value: float | None = None
    percentile: float | None = None

    @property
    def is_model(self) -> bool:
        return self.text == "model"


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    cooldown_ms: int
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSet:
    rules: dict[str, Rule]
    source: str

    def percentiles(self) -> set[tuple[str, float]]:
        """(score, percentile) pairs whose live values the rules need."""
        return {
            (THRESHOLD_SCORES[(rule.name, key)], threshold.percentile)
            for rule in self.rules.values()
            for key, threshold in rule.thresholds.items()
            if threshold.percentile is not None
        }


def load_rules(path: Path | None = None) -> RuleSet:
    """Read and validate a rule file; the packaged default when ``path`` is ``None``."""
    path = path or DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"alert rules {path}: cannot read: {exc.strerror or exc}") from exc
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str) -> RuleSet:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"alert rules {source}: not valid TOML: {exc}") from exc
    rules = {}
    for name, body in document.items():
        where = f"alert rules {source}, line {_line_of(text, name)}"
        if name not in RULE_FIELDS:
            raise ConfigError(f"{where}: unknown rule {name!r} (known: {', '.join(sorted(RULE_FIELDS))})")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: {name!r} must be a table, e.g. [{name}]")
        rule = _rule(name, body, text, source)
        if rule is not None:
            rules[name] = rule
    return RuleSet(rules, source)


def _rule(name: str, body: dict[str, Any], text: str, source: str) -> Rule | None:
    def fail(key: str | None, problem: str) -> ConfigError:
        return ConfigError(f"alert rules {source}, line {_line_of(text, name, key)}: rule {name!r}: {problem}")

    allowed = RULE_FIELDS[name] | COMMON_FIELDS
    for key in body:
        if key not in allowed:
            raise fail(key, f"unknown field {key!r} (fields: {', '.join(sorted(allowed))})")
    for key in sorted(REQUIRED_FIELDS[name] - set(body)):
        raise fail(None, f"missing field {key!r}")
    if body.get("enabled", True) is False:
        return None
    severity = body.get("severity", "warning")
    if severity not in SEVERITIES:
        raise fail("severity", f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    cooldown = body.get("cooldown_hours", 24)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int | float) or cooldown < 0:
        raise fail("cooldown_hours", f"cooldown_hours must be a number >= 0, not {cooldown!r}")
    thresholds = {}
    for key in sorted(body):
        if (name, key) in THRESHOLD_SCORES:
            try:
                thresholds[key] = _threshold(name, key, body[key])
            except ValueError as exc:
                raise fail(key, str(exc)) from None
    _check_levels(thresholds, lambda problem: fail("clear", problem))
    options: dict[str, Any] = {
        key: body[key] for key in ("max_rating", "min_session_clicks", "from", "to") if key in body
    }
    for key in ("from", "to"):
        if key in options and (
            not isinstance(options[key], list) or not options[key] or not set(options[key]) <= set(SEGMENTS)
        ):
            raise fail(key, f"{key!r} must be a list of segments from {', '.join(SEGMENTS)}")
    clicks = options.get("min_session_clicks", 1)
    if isinstance(clicks, bool) or not isinstance(clicks, int) or clicks < 1:
        raise fail("min_session_clicks", f"min_session_clicks must be a whole number >= 1, not {clicks!r}")
    if "max_rating" in options and options["max_rating"] not in (1, 2, 3, 4, 5):
        raise fail("max_rating", f"max_rating must be a whole rating 1 to 5, not {options['max_rating']!r}")
    return Rule(name, severity, int(cooldown * 3_600_000), thresholds, options)


def _threshold(rule: str, key: str, raw: Any) -> Threshold:
    if isinstance(raw, bool):
        raise ValueError(f"{key} must be a number or a percentile like 'p90', not {raw!r}")
    if isinstance(raw, int | float):
        if THRESHOLD_SCORES[(rule, key)] in PROBABILITIES and not 0 <= raw <= 1:
            raise ValueError(f"{key} = {raw} is a probability threshold: it must lie between 0 and 1")
        return Threshold(str(raw), value=float(raw))
    if raw == "model" and rule in MODEL_THRESHOLD_RULES:
        return Threshold("model")
    match = _PERCENTILE.match(raw) if isinstance(raw, str) else None
    if match is None or not 0 < float(match.group(1)) < 100:
        extra = ", or 'model'" if rule in MODEL_THRESHOLD_RULES else ""
        raise ValueError(f"{key} = {raw!r} is not a number or a percentile like 'p90' (0 < p < 100){extra}")
    return Threshold(raw, percentile=float(match.group(1)))


def _check_levels(thresholds: dict[str, Threshold], fail: Any) -> None:
    """``clear`` must not sit above ``raise`` (that would re-raise on every score)."""
    raise_, clear = thresholds.get("raise"), thresholds.get("clear")
    if raise_ is None or clear is None:
        return
    both_values = raise_.value is not None and clear.value is not None
    both_percentiles = raise_.percentile is not None and clear.percentile is not None
    if (both_values and clear.value > raise_.value) or (  # type: ignore[operator]
        both_percentiles and clear.percentile > raise_.percentile  # type: ignore[operator]
    ):
        raise fail(f"clear = {clear.text} is above raise = {raise_.text}: hysteresis needs clear <= raise")
    if not (both_values or both_percentiles):
        raise fail("raise and clear must both be numbers or both be percentiles")


def _line_of(text: str, table: str, key: str | None = None) -> int:
    """The line of ``[table]``, or of ``key = ...`` inside it (1-based; 1 when not found)."""
    header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=") if key else None
    inside, found = False, 1
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            inside, found = True, number
            if assignment is None:
                return number
        elif line.lstrip().startswith("["):
            inside = False
        elif inside and assignment is not None and assignment.match(line):
            return number
    return found
