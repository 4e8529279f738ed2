"""Real data sets as event logs: ``pulse datasets NAME --out LOG``.

Each converter documents its mapping and returns a ``Conversion`` that counts what it
wrote, what it kept after a repair, and what it skipped, each by reason.

The files of every data set but CDNOW come from the shared data folder next to the
project (``../shared/data``, or ``PULSE_DATASETS_DIR``), or from ``--source``.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import ConfigError

#: The shared data folder: ``../shared/data`` beside the project root.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class Conversion:
    events: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)
    source: str = ""

    def summary(self, out: Path) -> str:
        written = ", ".join(f"{kind} {count:,}" for kind, count in sorted(self.events.items()))
        line = f"wrote {sum(self.events.values()):,} events ({written}) to {out} from {self.source}"
        line += f"; skipped {_counts(self.skipped) or 'nothing'}"
        if self.adjusted:
            line += f"; kept after a repair {_counts(self.adjusted)}"
        return line


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{reason} {count:,}" for reason, count in sorted(counter.items()))


def data_file(source: Path | None, folder: str, name: str) -> Path:
    """``source`` if given, else ``name`` in ``folder`` of the shared data folder; it must exist."""
    if source is None:
        root = Path(os.environ.get("PULSE_DATASETS_DIR") or DEFAULT_DATA_DIR)
        source = root / folder / name
    if not source.exists():
        raise ConfigError(f"data file {source} not found (set PULSE_DATASETS_DIR or pass --source PATH)")
    return source


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a CSV file, plain or gzip, as dicts (quoted newlines kept inside fields)."""
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            yield from csv.DictReader(text)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def converters() -> dict[str, Callable[[Path, Path | None], Conversion]]:
    from stream.datasets import cdnow, olist, online_retail, online_shoppers, otto, womens_reviews

    return {
        "cdnow": cdnow.convert,
        "online-retail": online_retail.convert,
        "womens-reviews": womens_reviews.convert,
        "olist": olist.convert,
        "online-shoppers": online_shoppers.convert,
        "otto": otto.convert,
    }
