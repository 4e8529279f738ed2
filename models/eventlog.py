"""Event logs on disk: JSONL, plain or gzip, one event a line with its ``type``.

Reading never fails on a bad line: lines are handed out raw with their line number so
the caller can validate each and dead-letter the bad ones.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from models.errors import ConfigError
from models.jsonio import dumps

GZIP_MAGIC = b"\x1f\x8b"


def open_log(path: Path, mode: str = "rb") -> IO[bytes]:
    """Open a log for binary reading or writing, gzip by content (read) or suffix (write)."""
    if "w" in mode:
        if path.suffix == ".gz":
            return gzip.GzipFile(path, "wb", compresslevel=5)  # type: ignore[return-value]
        return open(path, "wb")
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(f"cannot read event log {path}: {exc.strerror}") from exc
    if handle.read(2) == GZIP_MAGIC:
        handle.close()
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line)`` for every non-blank line, numbered from 1."""
    with open_log(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                stripped = line.strip()
                if stripped:
                    yield number, stripped
        except (OSError, EOFError) as exc:
            raise ConfigError(f"event log {path} is truncated or corrupt: {exc}") from exc


def write_log(path: Path, events: Iterable[dict[str, Any]]) -> int:
    """Write events as JSONL (gzip when the name ends in .gz); return how many."""
    count = 0
    with open_log(path, "wb") as handle:
        for event in events:
            handle.write(dumps(event))
            handle.write(b"\n")
            count += 1
    return count
