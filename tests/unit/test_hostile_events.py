"""Hostile input at the engine: every event is dead-lettered with a known reason or scored.

Hypothesis builds more than 10,000 events from valid ones by breaking them the ways
producers do: wrong types, huge or control-character strings, deep nesting, invalid
UTF-8, extreme or non-finite numbers, timestamps far in the past or future, missing
and extra fields, duplicates. Each goes through ``decode_event`` and, if valid, through
one long-lived engine, whose records must stay valid against the published schema.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import orjson

from models.engine import Engine
from models.errors import InvalidEvent
from models.events import MAX_ID_CHARS, REASONS, decode_event
from tests.hostile import for_each_batch

SCHEMA = json.loads((Path(__file__).parents[2] / "models/schemas/customer-score.schema.json").read_text())
SCORE_VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
BATCHES, PER_BATCH = 220, 50  # 11,000 events


def test_every_hostile_event_is_dead_lettered_with_a_reason_or_scored() -> None:
    engine = Engine()
    seen = {"events": 0, "scored": 0, "dead": 0}

    def check(batch: list[bytes]) -> None:
        for raw in batch:
            seen["events"] += 1
            try:
                event = decode_event(raw)
            except InvalidEvent as exc:
                assert exc.reason in REASONS and exc.message
                seen["dead"] += 1
                continue
            assert math.isfinite(event.ts) and 0 < len(event.customer_id) <= MAX_ID_CHARS
            for output in engine.process(event, emitted_at=0):
                if output.kind == "score":
                    SCORE_VALIDATOR.validate(output.value)
                    orjson.dumps(output.value)  # serialisable as published: no NaN, no infinities
            seen["scored"] += 1

    for_each_batch(BATCHES, PER_BATCH, check)
    assert seen["events"] >= 10_000, seen
    assert seen["dead"] > 5_000 and seen["scored"] > 500, seen
