"""The reference pipeline on Quix Streams: the worker's logic, the same engine and models.

The ``orders``, ``clicks`` and ``reviews`` dataframes are concatenated (Quix then aligns
the co-partitioned topics by message timestamp); one stateful ``apply`` per event
decodes it, runs ``Engine.process`` with the customer's state held in Quix's RocksDB
state (its ``to_list()`` form, per message key = customer id, with a changelog topic),
and expands into the records, which go to ``<app id>-customer-scores``, ``-customer-alerts``
and ``-events-dlq`` keyed by customer id. Quix's defaults otherwise: at-least-once,
commit every 5 s.

Start-up settings as in ``stream/app.py``: a 6 s session timeout and 1 s heartbeats
(librdkafka's defaults, 45 s and 3 s, make the first join on the embedded broker take
about 20 s instead of about 8). One thing the embedded broker needs: Quix derives its
changelog topic's retention from the input topics' ``retention.ms`` (DescribeConfigs),
and the embedded broker reports only the configs given when a topic was created, so the
benchmark creates the input topics with ``retention.ms`` and ``retention.bytes`` set (to
-1, unlimited). Without them Quix stops with ``KeyError: 'retention.ms'`` before it
starts.

Configured like the worker (``PULSE_BROKER``, ``PULSE_TOPIC_PREFIX``, ``PULSE_DATA_DIR``,
``PULSE_HORIZON_DAYS``, ``PULSE_SEED``); ``BENCH_APP_ID`` (default ``reference-quix``)
names its consumer group and prefixes its output topics.

    python -m bench.reference.quix_app
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping

from quixstreams import Application, State, message_context

from models.engine import Engine, Output
from models.errors import InvalidEvent
from models.events import decode_event
from models.jsonio import dumps
from models.records import dead_letter
from models.state import CustomerState, Source
from models.timeutil import now_ms
from stream.settings import Settings
from stream.topics import INPUT_TYPES

#: The worker's Faust session timeout and heartbeat (see the module docstring).
CONSUMER_CONFIG = {"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000}


class QuixStates(MutableMapping[str, CustomerState]):
    """The engine's view of Quix state: the current message's key is the customer."""

    state: State

    def __getitem__(self, customer_id: str) -> CustomerState:
        data = self.state.get("customer")
        if data is None:
            raise KeyError(customer_id)
        return CustomerState.from_list(data)

    def __setitem__(self, customer_id: str, state: CustomerState) -> None:
        self.state.set("customer", state.to_list())

    def __delitem__(self, customer_id: str) -> None:
        self.state.delete("customer")

    def __iter__(self) -> Iterator[str]:
        raise NotImplementedError("Quix state is read per message key")

    def __len__(self) -> int:
        raise NotImplementedError("Quix state is read per message key")


def build(settings: Settings, app_id: str) -> Application:
    app = Application(
        broker_address=settings.bootstrap_servers,
        consumer_group=app_id,
        auto_offset_reset="earliest",
        state_dir=str(settings.data_dir / "quix"),
        consumer_extra_config=CONSUMER_CONFIG,
        loglevel="WARNING",
    )
    kinds = {settings.topic(name): kind for name, kind in INPUT_TYPES.items()}
    inputs = [app.topic(name, key_deserializer="bytes", value_deserializer="bytes") for name in kinds]
    outputs = {
        kind: app.topic(f"{app_id}-{name}", key_serializer="bytes", value_serializer="bytes")
        for kind, name in (("score", "customer-scores"), ("alert", "customer-alerts"), ("dlq", "events-dlq"))
    }
    states = QuixStates()
    engine = Engine(settings.engine_config(), states=states)

    def score(value: bytes, state: State) -> list[Output]:
        context = message_context()
        try:
            event = decode_event(value, kinds[context.topic])
        except InvalidEvent as exc:
            record = dead_letter(
                exc.reason, exc.message, value, context.topic, context.partition, context.offset, now_ms()
            )
            return [Output("dlq", "", record)]
        states.state = state
        return engine.process(event, Source(context.topic, context.partition, context.offset))

    sdf = app.dataframe(inputs[0])
    for topic in inputs[1:]:
        sdf = sdf.concat(app.dataframe(topic))
    records = sdf.apply(score, stateful=True, expand=True)
    for kind, topic in outputs.items():
        branch = records.filter(lambda output, kind=kind: output.kind == kind)
        branch.apply(lambda output: dumps(output.value)).to_topic(topic)  # keyed by the input's key
    return app


def main() -> None:
    build(Settings.from_env(), os.environ.get("BENCH_APP_ID", "reference-quix")).run()


if __name__ == "__main__":
    main()
