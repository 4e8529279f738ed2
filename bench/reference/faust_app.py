"""The plain reference pipeline: the worker's logic written the straightforward way in Faust.

One agent over the ``orders``, ``clicks`` and ``reviews`` topics; per event: decode,
``Engine.process``, a write of the customer's state (its ``to_list()`` form, JSON) to a
RocksDB-backed ``faust.Table``, and an ``await topic.send(...)`` for each score and
alert. No micro-batches, no event-time merge, no write-back cache, no commit guard:
what a first version of the worker would look like. The same engine and models as the
worker, so a throughput gap is the shell's, not the models'.

Configured like the worker (``PULSE_BROKER``, ``PULSE_TOPIC_PREFIX``, ``PULSE_PARTITIONS``,
``PULSE_DATA_DIR``, ``PULSE_HORIZON_DAYS``, ``PULSE_SEED``) so it reads the same input
topics; ``BENCH_APP_ID`` (default ``reference-faust``) names its consumer group and
prefixes its output topics (``<app id>-customer-scores``, ``-customer-alerts``,
``-events-dlq``), so its records never mix with the worker's. Start-up settings are
those of ``stream/app.py``.

    python -m bench.reference.faust_app worker -l warn
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from typing import Any

import faust

from models.engine import Engine
from models.errors import InvalidEvent
from models.events import decode_event
from models.jsonio import dumps
from models.records import dead_letter
from models.state import CustomerState, Source
from models.timeutil import now_ms
from stream.app import faust_settings
from stream.settings import Settings
from stream.topics import INPUT_TYPES

settings = Settings.from_env()
APP_ID = os.environ.get("BENCH_APP_ID", "reference-faust")
KINDS = {settings.topic(name): kind for name, kind in INPUT_TYPES.items()}
(settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)

app = faust.App(
    APP_ID,
    broker=settings.broker,
    **faust_settings(settings),  # the worker's own: start-up speed, store, commits
)
source = app.topic(*KINDS, key_serializer="raw", value_serializer="raw")
scores = app.topic(f"{APP_ID}-customer-scores", key_serializer="raw", value_serializer="raw")
alerts = app.topic(f"{APP_ID}-customer-alerts", key_serializer="raw", value_serializer="raw")
dlq = app.topic(f"{APP_ID}-events-dlq", key_serializer="raw", value_serializer="raw")
table = app.Table("customer-state", partitions=settings.partitions, key_type=bytes)  # values: JSON lists


class TableStates(MutableMapping[str, CustomerState]):
    """The engine's view of the table: every read decodes, every write goes to the table."""

    def __getitem__(self, customer_id: str) -> CustomerState:
        data = table.get(customer_id.encode())
        if data is None:
            raise KeyError(customer_id)
        return CustomerState.from_list(data)

    def __setitem__(self, customer_id: str, state: CustomerState) -> None:
        table[customer_id.encode()] = state.to_list()

    def __delitem__(self, customer_id: str) -> None:
        del table[customer_id.encode()]

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in table)

    def __len__(self) -> int:
        return len(table)


engine = Engine(settings.engine_config(), states=TableStates())


@app.agent(source, name="score")
async def score(stream: faust.StreamT[Any]) -> None:
    async for event in stream.events():
        message = event.message
        try:
            parsed = decode_event(message.value, KINDS[message.topic])
        except InvalidEvent as exc:
            record = dead_letter(
                exc.reason, exc.message, message.value, message.topic, message.partition, message.offset, now_ms()
            )
            await dlq.send(key=message.key, value=dumps(record))
            continue
        for output in engine.process(parsed, Source(message.topic, message.partition, message.offset)):
            topic = scores if output.kind == "score" else alerts
            await topic.send(key=output.key.encode(), value=dumps(output.value))


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
