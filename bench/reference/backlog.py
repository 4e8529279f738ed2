"""Whether a backlog has stopped growing: the rule the latency and soak benchmarks share."""

from __future__ import annotations

from collections.abc import Sequence

#: Growth per second, as a share of the offered rate, that still counts as bounded.
GROWTH_LIMIT = 0.02


def window_means(samples: Sequence[tuple[float, float]], end: float, window: float) -> tuple[float, float] | None:
    """Mean of the values sampled in ``[end - window, end]`` and in ``[end - 2 window, end - window)``.

    ``samples`` are ``(seconds, value)``; ``None`` when either window holds no sample.
    """
    last = [value for at, value in samples if end - window <= at <= end]
    before = [value for at, value in samples if end - 2 * window <= at < end - window]
    if window <= 0 or not last or not before:
        return None
    return sum(last) / len(last), sum(before) / len(before)


def is_bounded(means: tuple[float, float], window: float, rate: float) -> bool:
    """The last window's mean exceeds the one before by less than ``GROWTH_LIMIT`` of ``rate`` per second."""
    last, before = means
    return (last - before) / window < GROWTH_LIMIT * rate
