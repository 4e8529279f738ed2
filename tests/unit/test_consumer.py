import asyncio
from pathlib import Path

from faust.types import TP
from prometheus_client import CollectorRegistry

from stream.app import build_app
from stream.consumer import DirectConsumer
from stream.metrics import PulseMetrics
from stream.settings import Settings
from stream.status import LatestAlerts


def test_the_worker_consumer_delivers_directly_and_takes_the_configured_fetch_wait(tmp_path: Path) -> None:
    settings = Settings.from_env({"PULSE_DATA_DIR": str(tmp_path), "PULSE_FETCH_MAX_WAIT_MS": "40"})
    registry = CollectorRegistry()

    async def fetch_wait_of_the_worker():  # aiokafka binds its consumer to the running loop
        app, _pipeline = build_app(settings, PulseMetrics.create(registry), registry, LatestAlerts())
        assert isinstance(app.consumer, DirectConsumer)
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        await consumer.stop()  # never started: nothing to close but the object
        return consumer._fetch_max_wait_ms

    assert asyncio.run(fetch_wait_of_the_worker()) == 40  # Faust alone would give 1,500


def test_the_client_position_is_unknown_until_the_consumer_has_started(tmp_path: Path) -> None:
    settings = Settings.from_env({"PULSE_DATA_DIR": str(tmp_path)})
    registry = CollectorRegistry()

    async def position_before_start():
        app, _pipeline = build_app(settings, PulseMetrics.create(registry), registry, LatestAlerts())
        return app.consumer.client_position(TP(settings.topic("orders"), 0))

    assert asyncio.run(position_before_start()) is None
