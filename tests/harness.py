"""Helpers for integration tests: workers as real processes, producing and reading topics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from stream.broker import EmbeddedBroker, free_port
from stream.producer import produce, topic_and_payload
from stream.settings import Settings
from stream.topics import ensure_topics


@dataclass
class Cluster:
    broker: EmbeddedBroker
    prefix: str
    workdir: Path
    partitions: int = 4
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    metrics_port: int = field(default_factory=free_port)
    #: More ``PULSE_*`` settings for this cluster's workers and clients.
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Status and metrics port of each worker after the first (which has ``metrics_port``).
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.extra_env,
            "PULSE_BROKER": self.broker.url,
            "PULSE_TOPIC_PREFIX": self.prefix,
            "PULSE_PARTITIONS": str(self.partitions),
            "PULSE_LOG_LEVEL": "info",
            "PULSE_METRICS_PORT": str(self.metrics_port),
        }

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def create_topics(self) -> None:
        asyncio.run(ensure_topics(self.settings))

    def start_worker(self, name: str = "w1") -> subprocess.Popen[bytes]:
        data_dir = self.workdir / f"data-{name}"
        log = open(self.workdir / f"worker-{name}.log", "ab")  # noqa: SIM115
        env = {**os.environ, **self.env, "PULSE_DATA_DIR": str(data_dir), "PULSE_METRICS_PORT": str(self.port(name))}
        process = subprocess.Popen(
            [sys.executable, "-m", "stream.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.workers.append(process)
        return process

    def port(self, name: str) -> int:
        """The metrics port of worker ``name``."""
        return self.metrics_port if name == "w1" else self.ports.setdefault(name, free_port())

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
        """SIGTERM and wait: the worker leaves its group and checkpoints on the way out."""
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """``kill -9``: no shutdown hooks, no flush, no commit."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def worker_log(self, name: str = "w1") -> str:
        path = self.workdir / f"worker-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def produce_events(self, events: Iterable[dict[str, Any]]) -> int:
        settings = self.settings
        return asyncio.run(produce(settings, (topic_and_payload(event, settings) for event in events)))

    def produce_raw(self, records: Iterable[tuple[str, bytes | None, bytes]], rate: float | None = None) -> int:
        # Generous timeouts: a producer must ride out a frozen broker, not drop records.
        return asyncio.run(produce(self.settings, records, rate, request_timeout_ms=300_000))


def read_topics(
    broker: EmbeddedBroker,
    topics: list[str],
    done: Callable[[dict[str, list[Any]]], bool],
    timeout: float,
    settle: float = 2.0,
) -> dict[str, list[Any]]:
    """Read ``topics`` from the beginning until ``done(records)``, then ``settle`` seconds more.

    Records are ``(key, decoded value)`` per topic in partition order; the settle time
    catches records that should not be there (duplicates, extras).
    """
    return asyncio.run(_read(broker.bootstrap, topics, done, timeout, settle))


async def _read(
    bootstrap: str, topics: list[str], done: Callable[[dict[str, list[Any]]], bool], timeout: float, settle: float
) -> dict[str, list[Any]]:
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    records: dict[str, list[Any]] = {topic: [] for topic in topics}
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                records[tp.topic].extend((m.key, orjson.loads(m.value) if m.value else None) for m in messages)
            if settle_until is None and done(records):
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                return records
        raise TimeoutError(f"gave up after {timeout:.0f} s: " + ", ".join(f"{t}={len(r)}" for t, r in records.items()))
    finally:
        await consumer.stop()


def read_to_end(broker: EmbeddedBroker, topic: str) -> list[tuple[bytes, bytes]]:
    """Every ``(key, raw value)`` on ``topic`` up to its end offsets now."""
    by_partition = asyncio.run(_read_to_end(broker.bootstrap, topic))
    return [record for records in by_partition.values() for record in records]


def read_partitions_to_end(broker: EmbeddedBroker, topic: str) -> dict[int, list[tuple[bytes, bytes]]]:
    """Partition -> its ``(key, raw value)`` records in offset order, up to the end offsets now."""
    return asyncio.run(_read_to_end(broker.bootstrap, topic))


async def _read_to_end(bootstrap: str, topic: str) -> dict[int, list[tuple[bytes, bytes]]]:
    # Stops at the high watermark of fetch responses: the embedded broker's
    # ListOffsets(latest) can under-report the end of a partition.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        partitions = consumer.assignment()
        out: dict[int, list[tuple[bytes, bytes]]] = {}
        while True:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                out.setdefault(tp.partition, []).extend((m.key, m.value) for m in messages)
            behind = 0
            for tp in partitions:
                highwater = consumer.highwater(tp)
                behind += highwater is None or await consumer.position(tp) < highwater
            if not behind:
                return out
    finally:
        await consumer.stop()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on a worker's /metrics, keyed by (name, sorted labels)."""
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
