"""The worker's malloc settings: large blocks keep being mapped on their own, env wins.

Each case runs in a fresh interpreter, since the settings last for the process. glibc
raises its mapping threshold when a mapped block is freed; with the threshold fixed, a
512 KiB block is still mapped after a 4 MiB one was freed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import ctypes
    from stream.allocator import tune_malloc

    class MallInfo2(ctypes.Structure):
        names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        _fields_ = [(name, ctypes.c_size_t) for name in names.split()]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    print(",".join(tune_malloc()))
    libc.free(libc.malloc(4 << 20))  # raises glibc's own threshold past 4 MiB, unless fixed
    before = libc.mallinfo2().hblks
    block = libc.malloc(512 << 10)
    print(libc.mallinfo2().hblks - before)
    libc.free(block)
    """
)

glibc = pytest.mark.skipif(
    not hasattr(__import__("ctypes").CDLL(None), "gnu_get_libc_version"), reason="glibc's malloc only"
)


def probe(**env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    applied, mapped = done.stdout.split("\n")[:2]
    return applied, int(mapped)


@glibc
def test_large_blocks_stay_mapped_after_tuning():
    applied, mapped = probe()
    assert applied == "MALLOC_ARENA_MAX=2,MALLOC_MMAP_THRESHOLD_=131072,MALLOC_TRIM_THRESHOLD_=131072"
    assert mapped == 1


@glibc
def test_a_setting_given_in_the_environment_is_left_alone():
    applied, mapped = probe(MALLOC_MMAP_THRESHOLD_=str(8 << 20))
    assert applied == "MALLOC_ARENA_MAX=2,MALLOC_TRIM_THRESHOLD_=131072"
    assert mapped == 0  # the 512 KiB block came from the heap, as the environment asked
