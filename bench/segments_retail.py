"""RFM segments on a real order log: group sizes at month ends and month-to-month churn.

Runs the log through the engine (as ``pulse backtest`` does) and, at every month end,
puts every buyer seen so far in a segment with the cut points the engine holds then.
Prints the size of each group per month and the share of buyers whose group changed
since the previous month end (buyers present at both).

    python bench/segments_retail.py [LOG]    (default: pulse datasets online-retail, converted now)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from models.engine import Engine
from models.eventlog import iter_lines
from models.events import decode_event
from models.segments import SEGMENTS, customer_segment
from models.timeutil import to_iso
from stream.datasets import online_retail


def month_end_after(ts: int) -> int:
    """The last millisecond of the UTC month holding ``ts``."""
    moment = datetime.fromtimestamp(ts / 1000, tz=UTC)
    first_next = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return int(first_next.timestamp() * 1000) - 1


def segments_at(engine: Engine, ts: int) -> dict[str, str]:
    cuts = engine.suite.rfm_cuts
    out = {}
    for customer_id, state in engine.states.items():
        group = customer_segment(cuts, state, ts)
        if group is not None:
            out[customer_id] = group
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, nargs="?", help="an order log (default: Online Retail, converted now)")
    args = parser.parse_args()
    if args.log is None:
        with tempfile.TemporaryDirectory() as tmp:
            args.log = Path(tmp) / "online-retail.jsonl.gz"
            print(online_retail.convert(args.log).summary(args.log))
            return report(args.log)
    return report(args.log)


def report(log: Path) -> int:
    engine = Engine()
    started = time.perf_counter()
    months: list[tuple[int, dict[str, str]]] = []
    boundary: int | None = None
    events = 0
    for _number, raw in iter_lines(log):
        event = decode_event(raw)
        if boundary is None:
            boundary = month_end_after(event.ts)
        while event.ts > boundary:
            months.append((boundary, segments_at(engine, boundary)))
            boundary = month_end_after(boundary + 1)
        engine.process(event)
        events += 1
    seconds = time.perf_counter() - started
    print(f"{log.name}: {events:,} events, {len(engine.states):,} customers, {seconds:.1f} s")
    print(f"{'month end':<12}" + "".join(f"{name:>16}" for name in SEGMENTS) + f"{'changed':>10}")
    previous: dict[str, str] = {}
    for ts, groups in months:
        sizes = Counter(groups.values())
        both = [c for c in groups if c in previous]
        changed = f"{sum(groups[c] != previous[c] for c in both) / len(both):.1%}" if both else "-"
        if groups:
            print(f"{to_iso(ts)[:10]:<12}" + "".join(f"{sizes[name]:>16,}" for name in SEGMENTS) + f"{changed:>10}")
        previous = groups
    return 0


if __name__ == "__main__":
    sys.exit(main())
