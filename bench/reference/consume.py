"""The raw consume ceiling: aiokafka reading the input topics and orjson decoding each value.

Nothing else: no state, no models, no output. Prints one JSON line when ``count``
records are read: the count, the wall-clock times (ms) when the consumer was ready
(connected, partitions assigned, before its first fetch) and when the last record was
decoded, and the process's own peak resident memory (``VmHWM``) and CPU time.

    python -m bench.reference.consume BOOTSTRAP COUNT TOPIC [TOPIC ...]
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


async def consume(bootstrap: str, topics: list[str], count: int) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    read = objects = 0
    ready = wall_ms()
    try:
        while read < count:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    objects += isinstance(orjson.loads(message.value), dict)
                read += len(messages)
    finally:
        last = wall_ms()
        await consumer.stop()
    return {"count": read, "objects": objects, "first_ms": ready, "last_ms": last}


def peak_rss_mib() -> float:
    # Not getrusage's ru_maxrss: after a vfork-style spawn it starts at the parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    bootstrap, count, *topics = sys.argv[1:]
    result = asyncio.run(consume(bootstrap, topics, int(count)))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result |= {"peak_rss_mib": peak_rss_mib(), "cpu_s": usage.ru_utime + usage.ru_stime}
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
