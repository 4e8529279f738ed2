"""Real data sets as event logs: ``pulse datasets NAME --out LOG``.

Each converter documents its mapping and returns a ``Conversion`` that counts what it
wrote and what it skipped, by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Conversion:
    events: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    source: str = ""

    def summary(self, out: Path) -> str:
        written = ", ".join(f"{kind} {count:,}" for kind, count in sorted(self.events.items()))
        skipped = ", ".join(f"{reason} {count:,}" for reason, count in sorted(self.skipped.items())) or "nothing"
        return f"wrote {sum(self.events.values()):,} events ({written}) to {out} from {self.source}; skipped {skipped}"


def converters() -> dict[str, Callable[[Path, Path | None], Conversion]]:
    from stream.datasets import cdnow

    return {"cdnow": cdnow.convert}
