"""Keep a long-running process's memory from creeping up (glibc's malloc).

glibc serves a block of at least its "mmap threshold" with a fresh mapping
that goes back to the system when freed, but raises that threshold (up to
32 MB) each time such a block is freed; from then on images of several
megabytes come from per-thread arenas, which keep what they grew to. In a
server that hands images to many threads the resident memory crept up from
one request to the next (measured: 69 MB to 290 MB over eight rounds of two
2 MP requests); with the threshold fixed at 1 MiB it stayed at 116-165 MB
between requests. The cost: large arrays get fresh pages every time.
"""

from __future__ import annotations

import ctypes
import sys

#: Blocks from this size get their own mapping, returned when freed.
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def return_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes for this process
    (setting it turns off its dynamic raising). False where the C library
    is not glibc, or refused."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, threshold) == 1
