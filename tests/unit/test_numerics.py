"""The pins that make a log give the same scores on every x86-64 machine (models/numerics.py)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from models.numerics import pin_cpu_dispatch

import orjson
import pytest

from models.eventlog import write_log
from models.generator import GeneratorConfig, generate

X86_64 = platform.machine().lower() in ("x86_64", "amd64")
#: Another CPU as numpy and OpenBLAS see it: no AVX2 kernels in numpy, OpenBLAS's Nehalem kernels.
OTHER_CPU = {"NPY_DISABLE_CPU_FEATURES": "X86_V3", "OPENBLAS_CORETYPE": "Nehalem"}


def test_pins_keep_the_kernels_already_off_and_set_openblas_whatever_it_was() -> None:
    environ = {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4", "OPENBLAS_CORETYPE": "Haswell"}
    pin_cpu_dispatch(environ, "x86_64")
    assert environ["NPY_DISABLE_CPU_FEATURES"].split() == ["X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"]
    assert environ["OPENBLAS_CORETYPE"] == "Prescott"


def test_pins_leave_other_architectures_alone() -> None:
    environ: dict[str, str] = {}
    pin_cpu_dispatch(environ, "aarch64")
    assert environ == {}


def _records(path: Path) -> list[dict]:
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    for row in rows:
        row.pop("emitted_at")
    return rows


@pytest.mark.skipif(not X86_64, reason="the pins choose x86-64 kernels")
def test_a_backtest_gives_the_same_scores_and_alerts_on_another_cpu(tmp_path: Path) -> None:
    # 100 days of 300 customers: BG/NBD is fitted, and unpinned its fit on the other
    # kernels ended at a=2.2, b=11.7 against a=112, b=678 here, changing 2,177 of 7,040 scores.
    events, _truth = generate(GeneratorConfig(customers=300, days=100, seed=3))
    log = tmp_path / "log.jsonl"
    write_log(log, events)
    outputs = {}
    for cpu, overrides in {"this": {}, "other": OTHER_CPU}.items():
        scores_out, alerts_out = tmp_path / f"{cpu}-scores.jsonl", tmp_path / f"{cpu}-alerts.jsonl"
        command = [sys.executable, "-m", "stream.cli", "backtest", str(log), "--scores-out", str(scores_out)]
        done = subprocess.run(
            [*command, "--alerts-out", str(alerts_out)],
            env={**os.environ, **overrides},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "bgnbd: r=" in done.stdout, "the log is too short for a BG/NBD fit"
        outputs[cpu] = (_records(scores_out), _records(alerts_out))
    (scores, alerts), (other_scores, other_alerts) = outputs["this"], outputs["other"]
    assert len(scores) == len(events)
    differing = sum(mine != theirs for mine, theirs in zip(scores, other_scores, strict=True))
    assert differing == 0, f"{differing} of {len(scores)} score records differ on the other CPU"
    assert alerts == other_alerts


def _warnings_of(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return done.stderr


def test_the_engine_warns_when_numpy_was_loaded_before_the_models() -> None:
    assert "numpy was loaded before the models package" in _warnings_of(
        "import numpy\nfrom models.engine import Engine\nEngine()"
    )
    assert _warnings_of("from models.engine import Engine\nimport numpy\nEngine()") == ""
