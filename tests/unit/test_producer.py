"""How the paced producer groups records: the bursts decide how many batches a broker stores."""

from __future__ import annotations

import asyncio

from stream.producer import _paced

RECORD = ("t", None, b"x")


def burst_sizes(count: int, rate: float | None, burst_s: float) -> list[int]:
    async def collect() -> list[int]:
        return [len(burst) async for burst in _paced([RECORD] * count, rate, burst_s)]

    return asyncio.run(collect())


def test_a_paced_send_goes_out_in_bursts_of_rate_times_burst_length() -> None:
    assert burst_sizes(10, rate=1000, burst_s=0.004) == [4, 4, 2]
    assert burst_sizes(1200, rate=2000, burst_s=0.25) == [500, 500, 200]


def test_a_burst_holds_at_least_one_record() -> None:
    assert burst_sizes(3, rate=10, burst_s=0.01) == [1, 1, 1]


def test_an_unpaced_send_goes_out_in_chunks_of_2000() -> None:
    assert burst_sizes(4_500, rate=None, burst_s=0.25) == [2_000, 2_000, 500]
