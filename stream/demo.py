"""``pulse demo``: embedded broker, a worker and generated traffic, with a live summary.

Everything it starts is stopped on Ctrl-C or SIGTERM; children also get SIGTERM from
the kernel if the demo itself dies, so no process is left behind.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from models.generator import GeneratorConfig, generate
from stream.broker import EmbeddedBroker, die_with_parent, terminate
from stream.producer import produce, topic_and_payload
from stream.security import kafka_options
from stream.settings import Settings
from stream.topics import ensure_topics

SUMMARY_EVERY_S = 5.0
BAD_TWIN_EVERY = 50  # every 50th order is sent again with a negative amount: the dead-letter path


@dataclass
class Summary:
    """What the demo has seen on the output topics."""

    started: float = field(default_factory=time.monotonic)
    scores: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    customers: set[str] = field(default_factory=set)
    latest: dict[str, Any] | None = None
    last_scores: int = 0
    last_time: float = field(default_factory=time.monotonic)

    def add(self, topic_kind: str, value: dict[str, Any]) -> None:
        if topic_kind == "dlq":
            self.dead_letters[value.get("reason", "?")] += 1
            return
        self.scores += 1
        self.customers.add(value["customer_id"])
        self.latest = value

    def line(self, sent: int) -> str:
        now = time.monotonic()
        rate = (self.scores - self.last_scores) / max(now - self.last_time, 1e-9)
        self.last_scores, self.last_time = self.scores, now
        text = (
            f"[{now - self.started:5.0f}s] sent {sent:,} | scored {self.scores:,} ({rate:,.0f}/s) | "
            f"customers {len(self.customers):,} | dead letters {sum(self.dead_letters.values())}"
        )
        if self.latest:
            scores = self.latest["scores"]
            shown = ", ".join(
                f"{k}={_short(v)}" for k, v in scores.items() if v is not None and not isinstance(v, list)
            )
            text += f" | latest {self.latest['customer_id']} ({self.latest['event_type']}): {shown}"
        return text


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class Demo:
    def __init__(self, customers: int, days: int, seed: int, rate: float, port: int) -> None:
        self.config = GeneratorConfig(customers=customers, days=days, seed=seed)
        self.rate = rate
        self.port = port
        self.sent = 0
        self.summary = Summary()

    async def run(self) -> int:
        workdir = Path(tempfile.mkdtemp(prefix="pulse-demo-"))
        broker = EmbeddedBroker(port=self.port, log_path=workdir / "broker.log")
        worker: subprocess.Popen[bytes] | None = None
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
        try:
            broker.start()
            settings = replace(Settings.from_env(), broker=broker.url, data_dir=workdir / "data")
            await ensure_topics(settings)
            worker = self._start_worker(settings, workdir)
            print(f"customer-pulse demo: broker {broker.url}, worker pid {worker.pid}, logs in {workdir}")
            print(f"status page: http://localhost:{settings.metrics_port}/  (metrics: /metrics)")
            print(
                f"sending {self.config.customers} generated customers over {self.config.days} days at "
                f"{self.rate:,.0f} events/s; Ctrl-C to stop",
                flush=True,
            )
            await asyncio.gather(self._send(settings), self._watch(settings, worker))
        except asyncio.CancelledError:
            pass
        finally:
            print("\nstopping: worker, broker ...", flush=True)
            terminate(worker, timeout=20.0)
            broker.stop()
            shutil.rmtree(workdir, ignore_errors=True)
            print("stopped; nothing left running.")
        return 0

    def _start_worker(self, settings: Settings, workdir: Path) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PULSE_METRICS_PORT": str(settings.metrics_port),
            "PULSE_BROKER": settings.broker,
            "PULSE_DATA_DIR": str(settings.data_dir),
            "PULSE_PARTITIONS": str(settings.partitions),
            "PULSE_TOPIC_PREFIX": settings.topic_prefix,
        }
        with open(workdir / "worker.log", "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "stream.cli", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )

    async def _send(self, settings: Settings) -> None:
        events, _truth = generate(self.config)

        def records() -> Any:
            orders = 0
            for event in events:
                self.sent += 1
                yield topic_and_payload(event, settings)
                if event["type"] == "order":
                    orders += 1
                    if orders % BAD_TWIN_EVERY == 0:  # a careless producer's negative amount
                        bad = {**event, "event_id": f"{event['event_id']}-bad", "amount": -event["amount"]}
                        yield topic_and_payload(bad, settings)

        await produce(settings, records(), rate=self.rate)
        print(f"all {len(events):,} generated events sent; the worker keeps running until Ctrl-C", flush=True)

    async def _watch(self, settings: Settings, worker: subprocess.Popen[bytes]) -> None:
        kinds = {settings.topic("customer-scores"): "score", settings.topic("events-dlq"): "dlq"}
        consumer = AIOKafkaConsumer(
            *kinds,
            bootstrap_servers=settings.bootstrap_servers,
            **kafka_options(settings),
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            next_line = time.monotonic() + SUMMARY_EVERY_S
            while True:
                if worker.poll() is not None:
                    raise SystemExit(f"worker exited with code {worker.returncode}; see its log")
                for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                    for message in messages:
                        self.summary.add(kinds[tp.topic], orjson.loads(message.value))
                if time.monotonic() >= next_line:
                    print(self.summary.line(self.sent), flush=True)
                    next_line += SUMMARY_EVERY_S
        finally:
            await consumer.stop()
