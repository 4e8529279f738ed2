"""Hostile event payloads for property-based tests, built by breaking valid events.

Wrong types, huge or control-character strings, deep nesting, invalid UTF-8, extreme or
non-finite numbers, timestamps far in the past or future, missing and extra fields,
truncation, and event ids that collide (duplicates).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.badevents import VALID_CLICK, VALID_ORDER, VALID_REVIEW

nasty_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=200),
    st.builds(lambda n: "x" * n, st.integers(0, 3_000)),
    st.just("\u0000\u202e\ud7ff\ufeff"),
    st.builds(lambda n: "y" * n, st.sampled_from([129, 10_001, 300_000])),
)
nasty_number = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e-308, 2**63, 5e-324]),
)
nasty_ts = st.one_of(
    st.integers(-(2**62), 2**62),
    st.sampled_from(["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-02-30T00:00:00Z"]),
    st.sampled_from(["2024-03-01T10:00:00", "yesterday", "", "2024-03-01T10:00:00+25:00"]),
    st.builds(lambda d: f"{d.isoformat()}Z", st.datetimes()),
)
leaf = st.one_of(st.none(), st.booleans(), nasty_number, nasty_text, nasty_ts)
nested = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=20,
)
deep = st.integers(10, 5_000).map(lambda depth: "[" * depth + "]" * depth)


def _serialise(obj: dict[str, Any]) -> bytes:
    """orjson as producers use it; Python's json for integers beyond 64 bits, which orjson refuses."""
    try:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(obj, default=str).encode()


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    base = dict(draw(st.sampled_from([VALID_ORDER, VALID_CLICK, VALID_REVIEW])))
    base["type"] = {"o": "order", "k": "click", "r": "review"}[base["event_id"][0]]
    base["customer_id"] = draw(st.sampled_from(["c-1", "c-2", "c-3", 7, "c-" + "z" * 100]))
    base["event_id"] = f"e-{draw(st.integers(0, 400))}"  # collisions make duplicates
    for name in draw(st.lists(st.sampled_from([*sorted(base), "extra"]), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "nasty", "nested", "number", "ts"]))
        if action == "drop":
            base.pop(name, None)
        else:
            base[name] = draw({"nasty": nasty_text, "nested": nested, "number": nasty_number, "ts": nasty_ts}[action])
    kind = draw(st.sampled_from(["json", "json", "json", "python_json", "bytes", "deep", "truncated"]))
    if kind == "python_json":  # NaN / Infinity spelled as Python's json module writes them
        return json.dumps(base, default=str).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=64)) + _serialise(base)[:40]
    if kind == "deep":
        return draw(deep).encode()
    raw = _serialise(base)
    return raw[: draw(st.integers(1, len(raw)))] if kind == "truncated" else raw


def for_each_batch(batches: int, per_batch: int, check: Callable[[list[bytes]], None]) -> None:
    """Call ``check`` on ``batches`` lists of hostile payloads, the same lists on every run.

    Shrinking is skipped: a failure shows its batch as drawn, minutes sooner.
    """

    @settings(
        max_examples=batches,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(hostile(), min_size=per_batch, max_size=per_batch))
    def run(batch: list[bytes]) -> None:
        check(batch)

    run()
