"""The worker's HTTP endpoint: Prometheus ``/metrics``, a live status page at ``/``.

One small threaded WSGI server (the one prometheus_client uses) serves three paths:

- ``/metrics``: the registry in Prometheus text format;
- ``/status.json``: the same registry as JSON (counter totals, histogram buckets, gauges)
  plus the latest alerts; the page computes rates and percentiles from two polls;
- ``/``: ``status.html``, plain HTML and a little JavaScript, no external files, so it
  works offline.

Nothing configuration-like is exposed: no broker address, no credentials.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any
from wsgiref.simple_server import make_server

import orjson
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

LATEST_ALERTS = 20
#: Fields of an alert shown on the page (the record's scores snapshot stays out).
ALERT_FIELDS = ("ts", "rule", "severity", "customer_id", "reason")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class LatestAlerts:
    """The last alerts a worker sent, for the page; written by the event loop, read by HTTP threads."""

    def __init__(self, size: int = LATEST_ALERTS) -> None:
        self._alerts: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, alert: dict[str, Any]) -> None:
        with self._lock:
            self._alerts.appendleft({name: alert.get(name) for name in ALERT_FIELDS})

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._alerts)


def registry_snapshot(registry: CollectorRegistry) -> dict[str, list[dict[str, Any]]]:
    """Every sample of the ``pulse_`` families: ``{family: [{"name", "labels", "value"}]}``."""
    families: dict[str, list[dict[str, Any]]] = {}
    for family in registry.collect():
        if not family.name.startswith("pulse_"):
            continue
        families[family.name] = [
            {"name": sample.name, "labels": sample.labels, "value": sample.value}
            for sample in family.samples
            if not sample.name.endswith("_created")
        ]
    return families


def status_app(registry: CollectorRegistry, alerts: LatestAlerts) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)
    page = resources.files("stream").joinpath("status.html").read_bytes()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/status.json":
            body = orjson.dumps({"metrics": registry_snapshot(registry), "alerts": alerts.snapshot()})
            return _reply(start_response, "200 OK", "application/json", body)
        if path in ("/", "/index.html"):
            return _reply(start_response, "200 OK", "text/html; charset=utf-8", page)
        return _reply(start_response, "404 Not Found", "text/plain", b"not found\n")

    return app


def _reply(start_response: StartResponse, status: str, content_type: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Cache-Control", "no-store")])
    return [body]


def serve(port: int, registry: CollectorRegistry, alerts: LatestAlerts, host: str = "0.0.0.0") -> ThreadingWSGIServer:
    """Start serving in a daemon thread; ``OSError`` when the port is taken."""
    server = make_server(host, port, status_app(registry, alerts), ThreadingWSGIServer, handler_class=_SilentHandler)
    threading.Thread(target=server.serve_forever, name="pulse-http", daemon=True).start()
    return server
