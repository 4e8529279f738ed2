"""Model checkpoints written by a forked child, so pickling the models never pauses the stream.

Once the models hold tens of thousands of pending labels, pickling them takes seconds;
on the event loop that held up every batch behind it, once a minute. Instead the worker
forks between batches: the child sees the models exactly as they stand (copy-on-write
pages), pickles them, writes the file atomically and exits, while the parent goes on
scoring. The parent waits for the child off the event loop. One child at a time writes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import traceback
from collections.abc import Awaitable
from pathlib import Path
from typing import NoReturn

from models.checkpoint import checkpoint_bytes, save_checkpoint, write_atomically
from models.suite import ModelSuite

log = logging.getLogger(__name__)


class Checkpointer:
    """Writes checkpoints of the models to ``path``, one at a time, each in a child process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writing = asyncio.Lock()

    async def start(self, suite: ModelSuite, events: int, written_at_ms: int) -> asyncio.Future[bool]:
        """Take a checkpoint of ``suite`` now; the future says ``True`` once it is on disk.

        Call it with the models at rest (between batches). The next checkpoint waits until
        this one is written, even if nobody awaits the future; ``False`` means the write
        failed (logged) and the previous checkpoint stays.
        """
        await self._writing.acquire()
        try:
            pid = os.fork()
        except OSError as exc:  # no memory for a child, or a process limit: pickle here
            log.warning("cannot fork a checkpoint writer (%s); writing from the worker itself", exc)
            data = checkpoint_bytes(suite, events, written_at_ms)[1]
            written = asyncio.ensure_future(self._wait(asyncio.to_thread(write_atomically, self.path, data)))
        else:
            if pid == 0:
                _write_and_exit(suite, self.path, events, written_at_ms)
            written = asyncio.ensure_future(self._wait(asyncio.to_thread(_exit_code, pid)))
        written.add_done_callback(lambda _written: self._writing.release())
        return written

    async def _wait(self, done: Awaitable[int | None]) -> bool:
        try:
            code = await done
        except OSError as exc:
            log.error("checkpoint %s not written: %s", self.path, exc)
            return False
        if code:
            log.error("checkpoint writer for %s exited with code %d; the previous checkpoint stays", self.path, code)
            return False
        return True


def _exit_code(pid: int) -> int:
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _write_and_exit(suite: ModelSuite, path: Path, events: int, written_at_ms: int) -> NoReturn:
    """The child: write the checkpoint, then leave without running the parent's exit handlers."""
    code = 1
    try:
        gc.disable()  # a collection would touch every object and copy the parent's pages for nothing
        signal.set_wakeup_fd(-1)  # the parent's event loop owns that pipe
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        save_checkpoint(suite, path, events, written_at_ms)
        code = 0
    except BaseException:  # reported by the exit code; the parent logs it
        traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)
