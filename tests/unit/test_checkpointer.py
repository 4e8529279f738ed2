"""Checkpoints written by a forked child: a snapshot of the models at the call, never torn."""

import asyncio
import logging
import os

from models.checkpoint import read_checkpoint
from models.suite import ModelSuite
from stream.checkpointer import Checkpointer


def test_the_child_writes_the_models_as_they_stood_when_it_was_started(tmp_path):
    suite = ModelSuite(horizon_days=30, seed=7)
    path = tmp_path / "models" / "suite.ckpt"

    async def save_then_change() -> bool:
        written = await Checkpointer(path).start(suite, events=5, written_at_ms=1)
        suite.churn_champion = "classifier"  # changed while the child writes: not in the file
        return await written

    assert asyncio.run(save_then_change())
    restored, info = read_checkpoint(path, horizon_days=30, seed=7)
    assert (info.events, restored.churn_champion) == (5, "bgnbd")
    assert sorted(p.name for p in path.parent.iterdir()) == ["suite.ckpt"], "no temporary file left"


def test_a_failed_write_is_logged_keeps_the_old_file_and_frees_the_next_one(tmp_path, caplog):
    path = tmp_path / "suite.ckpt"
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the checkpoint's directory should be")
    suite = ModelSuite(horizon_days=30, seed=7)

    async def fail_then_succeed() -> tuple[bool, bool]:
        failing = Checkpointer(blocked / "suite.ckpt")
        first = await (await failing.start(suite, 1, 1))
        working = Checkpointer(path)
        second = await (await working.start(suite, 2, 2))
        return first, second

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(fail_then_succeed()) == (False, True)
    assert "exited with code 1" in caplog.text
    assert read_checkpoint(path, horizon_days=30, seed=7)[1].events == 2


def test_checkpoints_wait_for_the_one_being_written(tmp_path):
    """A second start while a child is still writing waits for it: one writer of the file at a time."""
    suite = ModelSuite(horizon_days=30, seed=7)
    checkpointer = Checkpointer(tmp_path / "suite.ckpt")

    async def two_in_a_row() -> list[int]:
        first = await checkpointer.start(suite, 1, 1)
        second = await checkpointer.start(suite, 2, 2)  # returns only once the first is written
        finished_first = first.done()
        await second
        return [int(finished_first), read_checkpoint(checkpointer.path, horizon_days=30, seed=7)[1].events]

    assert asyncio.run(two_in_a_row()) == [1, 2]


def test_without_fork_the_worker_writes_the_checkpoint_itself(tmp_path, monkeypatch, caplog):
    def no_fork() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", no_fork)
    path = tmp_path / "suite.ckpt"

    async def save() -> bool:
        return await (await Checkpointer(path).start(ModelSuite(horizon_days=30, seed=7), 3, 3))

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(save())
    assert "cannot fork a checkpoint writer" in caplog.text
    assert read_checkpoint(path, horizon_days=30, seed=7)[1].events == 3
