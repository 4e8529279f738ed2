"""Bytes per customer: the engine alone on the soak's traffic, states serialized and decoded.

Runs the soak's generator (``bench/soak.py``: 75% clicks in half-hour sessions, 20% orders,
5% reviews; the first events visit every customer once) through the engine, no Kafka, with
event time advancing ``--rate`` events per second. The default, 1,200,000 events over
100,000 customers, gives every customer state and then about 11 more events each. Then,
per customer state, it prints:

- serialized: the bytes of its RocksDB value and changelog record (mean, 99th percentile,
  largest, all of them together);
- decoded: a ``CustomerState`` as a worker's cache holds it between batches, measured with
  tracemalloc over the last ``--sample`` states decoded from their serialized form. A worker
  keeps its 20,000 most recently used customers decoded and the rest serialized in RocksDB;

and this process's peak resident memory, with every state decoded and the models' buffers.

    python bench/state_size.py [--customers 100000] [--events 1200000] [--rate 1000] [--sample 20000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reference.procstat import peak_rss_mib
from bench.soak import traffic
from models.engine import Engine
from models.events import decode_event
from models.jsonio import dumps, loads
from models.state import CustomerState
from stream.gcpolicy import settle_collector
from stream.settings import Settings

#: The soak's topics (named as the generator is told) and the type of event each carries.
EVENT_TYPES = {"orders": "order", "clicks": "click", "reviews": "review"}
START_MS = 1_700_000_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_200_000)
    parser.add_argument("--rate", type=int, default=1_000, help="events per second of event time")
    parser.add_argument("--sample", type=int, default=20_000, help="states decoded under tracemalloc")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    engine = Engine(Settings.from_env().engine_config())
    settle_collector()
    step_ms = 1_000 / args.rate
    clock = (START_MS + int(number * step_ms) for number in itertools.count())
    started = time.perf_counter()
    events = traffic(lambda name: name, args.customers, args.seed, clock.__next__)
    for topic, _key, value in itertools.islice(events, args.events):
        engine.process(decode_event(value, EVENT_TYPES[topic]))
    elapsed = time.perf_counter() - started
    print(
        f"state size: {args.events:,} events over {len(engine.states):,} customers through the engine "
        f"in {elapsed:.0f} s ({args.events / elapsed:,.0f} events/s), {args.events / len(engine.states):.1f} "
        "events per customer"
    )

    records = [dumps(state.to_list()) for state in engine.states.values()]
    sizes = sorted(len(record) for record in records)
    print(
        f"serialized: {sum(sizes) / len(sizes):,.0f} bytes per customer on average, 99th percentile "
        f"{sizes[int(len(sizes) * 0.99)]:,}, largest {sizes[-1]:,}; {sum(sizes) / 2**20:.1f} MiB for all"
    )
    engine.states.clear()
    sample = records[-args.sample :]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    decoded = [CustomerState.from_list(loads(record)) for record in sample]
    per_state = (tracemalloc.get_traced_memory()[0] - before) / len(decoded)
    tracemalloc.stop()
    print(
        f"decoded: {per_state:,.0f} bytes per customer (tracemalloc over {len(decoded):,}); a worker's 20,000 "
        f"cached states about {per_state * 20_000 / 2**20:.0f} MiB"
    )
    print(f"peak RSS of this process (every state decoded, the models): {peak_rss_mib(os.getpid()):,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
