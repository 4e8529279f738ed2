"""Shared fixtures: one embedded broker per test session, fresh topics per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.broker import EmbeddedBroker
from tests.harness import Cluster


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log_path) as running:
        yield running


@pytest.fixture
def cluster(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Cluster]:
    """Topics under a unique prefix on the shared broker, and workers started on demand."""
    cluster = Cluster(broker=broker, prefix=f"t{uuid.uuid4().hex[:8]}-", workdir=tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop_all()
