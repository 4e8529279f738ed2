"""Helpers of ``bench/throughput.py`` and ``bench/latency.py``, not benchmarks themselves.

``traffic``: the generated 75/20/5 event mix; ``faust_app`` and ``quix_app``: the plain
reference pipelines the worker is compared with; ``consume``: the raw consume ceiling;
``procstat``: peak memory and CPU time of a process, read from ``/proc``; ``scores``:
reading score records off a topic.
"""
