"""The C heap of a worker: giving freed memory back to the system, and how many arenas its
threads spread over. glibc only (through ctypes); elsewhere (musl, macOS) nothing is done.

A build of a large document (a new filter at 100,000 rallies) allocates and frees tens of MB
of small blocks: the parts read, their compressed chunks, the driver's rows. glibc gives back
only the free memory at the top of its main heap, so a block still in use above the freed ones
(a kept entry, a cached chunk) holds every page below it resident; and each thread that
allocates at once may get an arena of its own (up to 8 a core), each holding its own freed
pages. `trim` returns the free pages of every arena (malloc_trim(0)); `limit_arenas` keeps a
process's threads to a few arenas (mallopt(M_ARENA_MAX), as the variable MALLOC_ARENA_MAX
would, unless that is set). docs/benchmarks.md ("session 9") has the figures.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
import time

# mallopt's parameter number for the arenas' limit (glibc's malloc.h).
M_ARENA_MAX = -8

_lock = threading.Lock()
_loaded: list[ctypes.CDLL | None] = []
_last = [0.0]  # time.monotonic() of the last trim
# Trims done in this process and the seconds they took (bench/workermem.py reports them).
done = {"trims": 0, "seconds": 0.0}


def glibc() -> ctypes.CDLL | None:
    """glibc's C library, or None when the process runs on another one."""
    if not _loaded:
        found = None
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                library = ctypes.CDLL("libc.so.6")
            except OSError:
                library = None
            if library is not None and hasattr(library, "malloc_trim"):
                library.malloc_trim.argtypes = (ctypes.c_size_t,)
                library.malloc_trim.restype = ctypes.c_int
                library.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
                library.mallopt.restype = ctypes.c_int
                found = library
        _loaded.append(found)
    return _loaded[0]


def trim(every: float = 0.0) -> bool:
    """Give the free pages of every arena back to the system (malloc_trim(0)); at most once
    `every` seconds (a trim walks the heaps: a few milliseconds for hundreds of MB). True
    when done."""
    library = glibc()
    if library is None:
        return False
    with _lock:
        now = time.monotonic()
        if every and now - _last[0] < every:
            return False
        _last[0] = now
    started = time.perf_counter()
    library.malloc_trim(0)
    with _lock:
        done["trims"] += 1
        done["seconds"] += time.perf_counter() - started
    return True


def limit_arenas(count: int) -> bool:
    """At most `count` malloc arenas for this process and those it forks from now on, unless
    the environment says otherwise (MALLOC_ARENA_MAX, read by glibc itself). True when set."""
    library = glibc()
    if library is None or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    return bool(library.mallopt(M_ARENA_MAX, count))
