"""``pulse worker``: the Faust worker on the configured broker."""

from __future__ import annotations

import asyncio
import logging

import faust
from prometheus_client import CollectorRegistry, ProcessCollector

from models.errors import ConfigError
from stream.allocator import tune_malloc
from stream.app import build_app
from stream.gcpolicy import settle_collector
from stream.localstore import set_aside_corrupt_stores
from stream.metrics import PulseMetrics
from stream.settings import Settings
from stream.status import LatestAlerts, serve
from stream.topics import ensure_topics

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Create the topics if needed, then run the worker until SIGINT or SIGTERM."""
    tuned = tune_malloc()
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    set_aside_corrupt_stores(settings.data_dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings))
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # process_resident_memory_bytes and CPU seconds for the dashboard
    alerts = LatestAlerts()
    app, _pipeline = build_app(settings, PulseMetrics.create(registry), registry, alerts)
    try:
        serve(settings.metrics_port, registry, alerts)
    except OSError as exc:
        raise ConfigError(f"PULSE_METRICS_PORT={settings.metrics_port}: cannot serve metrics ({exc.strerror})") from exc
    log.info("status page on http://localhost:%d/, metrics on /metrics", settings.metrics_port)
    log.info("malloc settings: %s", ", ".join(tuned) or "as given")
    settle_collector()
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, loop=loop)
    worker.execute_from_commandline()
