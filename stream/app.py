"""Wiring only: the Faust app, its topics, the customer-state table and the agent."""

from __future__ import annotations

import time
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics
from faust.types import TP
from prometheus_client import CollectorRegistry

from models.checkpoint import restore_or_fresh
from models.engine import Engine
from stream.checkpointer import Checkpointer
from stream.commits import guard_commits
from stream.consumer import RawRecords, use_direct_consumer
from stream.metrics import GroupMonitor, PulseMetrics
from stream.outbox import Outbox
from stream.pipeline import OutputTopics, Pipeline
from stream.producer import producer_for
from stream.security import faust_credentials
from stream.settings import Settings
from stream.status import LatestAlerts
from stream.storememory import BudgetedOptions
from stream.tablestore import TableStore
from stream.topics import erasure_topic, input_topics, rekey_topic

GAUGE_REFRESH_S = 5.0
CUSTOMERS_REFRESH_S = 60.0


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Faust settings of a worker on ``settings``, besides its id, broker and credentials."""
    return dict(
        store="rocksdb://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_ms / 1000,
        # Start-up: small timeouts make rebalances quick on a local broker instead of
        # Faust's 10-60 s defaults; the embedded broker holds a first join for half the
        # session timeout, so 6 s here is a 3 s join.
        broker_rebalance_timeout=10,
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        stream_wait_empty=False,
        web_enabled=False,  # the status page and /metrics have their own small server
        autodiscover=False,
        table_standby_replicas=0,
        # The embedded broker answers ListOffsets(latest) with the base offset of the
        # last record batch + 1, below the true end, so after a crash the offset Faust
        # persisted in RocksDB (from the broker's own produce acks) looks "too high"
        # and the check refuses to start. The local store is then complete, not ahead.
        recovery_consistency_check=False,
    )


def build_app(
    settings: Settings, metrics: PulseMetrics, registry: CollectorRegistry, alerts: LatestAlerts
) -> tuple[faust.App, Pipeline]:
    """Build the Faust app for ``settings`` and the pipeline its agent drives.

    Faust's consumer-group sensors (commits, assignments, rebalances) report to the same
    registry, as ``faust_*``.
    """
    app = faust.App(
        settings.group_id,
        broker=settings.broker,
        broker_credentials=faust_credentials(settings),
        **faust_settings(settings),
    )
    use_direct_consumer(app, settings.fetch_max_wait_ms)
    app.monitor = GroupMonitor(metrics=FaustMetrics.create(registry, "faust"))
    inputs = input_topics(settings)
    erasures = erasure_topic(settings)
    source = app.topic(*inputs, erasures, schema=RawRecords())
    outputs = OutputTopics(
        scores=settings.topic("customer-scores"),
        alerts=settings.topic("customer-alerts"),
        dlq=settings.topic("events-dlq"),
        rekey=rekey_topic(settings),
    )
    table = app.Table(
        "customer-state",
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
    )
    store_options = BudgetedOptions(settings.store_memory_mb << 20)
    table.data.rocksdb_options = store_options  # type: ignore[attr-defined]  # set before any partition opens
    changelog = table.changelog_topic.get_topic_name()
    outbox = Outbox(lambda: producer_for(settings, linger_ms=0), exact_end=[changelog])
    store = TableStore(table, outbox)
    suite, _restored = restore_or_fresh(settings.checkpoint_path, settings.horizon_days, settings.seed)
    engine = Engine(settings.engine_config(), states=store, suite=suite)
    metrics.start_at_zero(inputs, engine.config.alert_rules.rules)
    checkpointer = Checkpointer(settings.checkpoint_path)
    pipeline = Pipeline(
        app, engine, store, outputs, outbox, inputs, settings.max_idle_ms, metrics, alerts, erasures, checkpointer
    )
    metrics.checkpoint_age.set_function(
        lambda: time.monotonic() - (pipeline.stats.checkpoint_at or pipeline.stats.started_at)
    )

    @app.agent(source, name="score")
    async def score(stream: faust.StreamT[Any]) -> None:
        try:
            async for batch in stream.take_events(  # type: ignore[attr-defined]  # missing from faust's StreamT
                settings.batch_size, within=settings.batch_linger_ms / 1000
            ):
                await pipeline.on_batch(batch)
        finally:  # flushed and closed when the agent stops; a restarted agent opens a new producer
            await outbox.close()

    @app.timer(interval=0.25)
    async def release_idle() -> None:
        await pipeline.tick()

    @app.timer(interval=GAUGE_REFRESH_S)
    async def refresh_gauges() -> None:
        pipeline.refresh_gauges()

    @app.timer(interval=CUSTOMERS_REFRESH_S)
    async def refresh_customers() -> None:
        pipeline.refresh_customers()

    @app.timer(interval=settings.checkpoint_interval_s)
    async def checkpoint_models() -> None:
        await pipeline.checkpoint()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def checkpoint_on_shutdown(sender: Any, **kwargs: Any) -> None:
        await pipeline.finish_deliveries()  # so the last commit can cover the last batch
        await pipeline.checkpoint()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        guard_commits(app.consumer, pipeline.commit_frontier)
        pipeline.on_assigned(assigned)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        await pipeline.finish_deliveries()  # acks of revoked partitions land before they move
        pipeline.on_revoked(revoked)

    return app, pipeline
