"""The same bits on every x86-64 machine: numpy's and OpenBLAS's CPU dispatch, pinned.

numpy picks its ``exp`` and ``log`` kernels by CPU. On a machine with AVX-512 they round
differently from the C library in the last bit (``exp`` for 4.6% of random inputs,
``log1p`` 5.9%, ``log`` 0.1%); without AVX-512, numpy's kernels give the C library's bits.
OpenBLAS picks its kernels by CPU too, and scipy's L-BFGS-B runs on them.

BG/NBD's likelihood is flat, so its fit turns those last bits into different
parameters. On the throughput benchmark's 200,000 events, this machine with and without
its AVX-512 kernels gave different scores for 77,684 events (BG/NBD and CLV by up to 0.7%,
churn risk by up to 1%) and two more alerts. A backtest on a laptop would not give a server's scores.

Both libraries read their choice from the environment when they load, so the package
puts its pins there on import, before any of its modules loads numpy. A process that
loaded numpy first keeps its own kernels; ``PINNED`` says so, and the engine warns. A numpy
built with AVX-512 in its baseline (a source build for such a CPU, not the published
wheels) cannot turn those kernels off and refuses to load with the pin. A numpy on another
BLAS than the wheels' OpenBLAS (MKL, say) keeps that library's own choice.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import MutableMapping

#: numpy's AVX-512 kernel groups (numpy 2.4 names).
NUMPY_KERNELS_OFF = ("X86_V4", "AVX512_ICL", "AVX512_SPR")
#: OpenBLAS's SSE3 kernels: every x86-64 CPU in service has them.
OPENBLAS_CORE = "Prescott"


def pin_cpu_dispatch(environ: MutableMapping[str, str], machine: str) -> None:
    """Turn numpy's AVX-512 kernels off and fix OpenBLAS's kernels, on x86-64 only.

    Kernels the environment already turns off stay off. OpenBLAS's core is set whatever
    the environment says: a worker and a backtest must run the same one.
    """
    if machine.lower() not in ("x86_64", "amd64"):
        return
    off = environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
    environ["NPY_DISABLE_CPU_FEATURES"] = " ".join(dict.fromkeys([*off, *NUMPY_KERNELS_OFF]))
    environ["OPENBLAS_CORETYPE"] = OPENBLAS_CORE


#: True when the pins were in place before numpy loaded in this process.
PINNED = "numpy" not in sys.modules
pin_cpu_dispatch(os.environ, platform.machine())
