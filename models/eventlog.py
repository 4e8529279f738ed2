"""Event logs on disk: JSONL or CSV, plain or gzip, one event a line with its ``type``.

Reading never fails on a bad line: lines are handed out raw (as JSON) with their line
number so the caller can validate each and dead-letter the bad ones.

A CSV log (``.csv`` or ``.csv.gz``) has a header naming event fields (``type``,
``event_id``, ``customer_id``, ``ts``, ...); empty cells are left out, and ``amount``,
``items`` and ``rating`` are read as numbers when they look like numbers (otherwise they
stay text and the event is dead-lettered with the reason).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
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


NUMERIC_FIELDS = ("amount", "items", "rating")
_NUMBER = re.compile(r"^-?\d+(\.\d*)?([eE][-+]?\d+)?$")


def is_csv(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(".csv")


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line)`` for every non-blank line, numbered from 1.

    For a CSV log the number is the row's line in the file (the header is line 1) and
    the raw line is the row as a JSON object.
    """
    if is_csv(path):
        yield from _csv_rows(path)
        return
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


def _csv_rows(path: Path) -> Iterator[tuple[int, bytes]]:
    with open_log(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as text:
        try:
            reader = csv.DictReader(text)
            for row in reader:
                event = {name: value for name, value in row.items() if name and value not in ("", None)}
                for name in NUMERIC_FIELDS:
                    value = event.get(name)
                    if isinstance(value, str) and _NUMBER.match(value.strip()):
                        number = float(value)
                        event[name] = int(number) if number.is_integer() and name != "amount" else number
                if event:
                    yield reader.line_num, dumps(event)
        except (OSError, EOFError, csv.Error) as exc:
            raise ConfigError(f"event log {path} is truncated or corrupt: {exc}") from exc
