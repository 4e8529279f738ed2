"""Metric names in PromQL, and the PromQL of the dashboard and the alert rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

#: Words of PromQL that are not metrics: functions, aggregations, keywords.
KEYWORDS = {
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "histogram_quantile",
    "abs", "ceil", "floor", "round", "clamp", "clamp_min", "clamp_max", "absent", "absent_over_time",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "last_over_time",
    "label_replace", "label_join", "vector", "scalar", "time", "timestamp", "changes", "resets", "sort",
    "sort_desc", "inf", "nan",
}  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^}]*\}")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NUMBERS = re.compile(r"(?<![\w:])\d+(\.\d*)?([eE][-+]?\d+)?(ms|[smhdwy])?")  # 0.99, 1e3, 5m
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads.

    >>> sorted(metric_names('histogram_quantile(0.99, sum by (le) (rate(pulse_event_lag_seconds_bucket[5m])))'))
    ['pulse_event_lag_seconds_bucket']
    """
    text = _STRINGS.sub(" ", expr)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBERS.sub(" ", text)
    names = set()
    for match in _NAME.finditer(text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if name in KEYWORDS or following.startswith("("):
            continue
        names.add(name)
    return names


def dashboard_exprs(path: Path) -> list[str]:
    """Every ``expr`` of every panel target, rows and nested panels included."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(path.read_text()))
    return found


def rule_exprs(path: Path) -> list[str]:
    return [rule["expr"] for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]
