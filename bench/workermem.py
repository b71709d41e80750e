"""What a gunicorn worker holds, written on SIGUSR2 (bench/cold.py --inspect).

bench/cold.py starts gunicorn with a config of its own that takes the checkout's settings and
this module's `post_worker_init`; each worker then answers SIGUSR2 by writing a JSON report to
$MAPAPP_BENCH_INSPECT/<pid>.json (its main thread, between two requests' dispatches):

- the kernel's figures (/proc/self/status: VmRSS, RssAnon, RssFile, VmHWM);
- glibc's allocator (mallinfo2: bytes in use and free in its heaps, mmapped blocks; the number
  of arenas from malloc_info): free bytes held in the heaps are memory Python freed but the
  process did not give back;
- Python's own allocator (blocks allocated, pymalloc's arenas from sys._debugmallocstats);
- the app's caches (mapapp.publishing.public.EntryCache, the gzip ChunkCache, the memoized
  documents) counted in bytes they hold;
- the largest owners by line with tracemalloc (when the worker runs with PYTHONTRACEMALLOC);
- the resident memory once `malloc_trim(0)` has given free heap back (what trimming would
  save), last, since it changes the worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

MIB = 2**20


class MallInfo2(ctypes.Structure):
    _fields_ = [  # noqa: RUF012 - ctypes' own declaration
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def libc() -> ctypes.CDLL | None:
    try:
        found = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return found if hasattr(found, "mallinfo2") else None


def status() -> dict[str, float]:
    text = Path("/proc/self/status").read_text()
    found = {}
    for key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
        match = re.search(rf"^{key}:\s+(\d+)", text, re.M)
        if match:
            found[key] = int(match.group(1)) / 1024
    return found


def malloc(c: ctypes.CDLL) -> dict[str, float]:
    c.mallinfo2.restype = MallInfo2
    info = c.mallinfo2()
    found = {
        "heap (sbrk + arenas), MiB": info.arena / MIB,
        "mmapped blocks, MiB": info.hblkhd / MIB,
        "in use, MiB": info.uordblks / MIB,
        "free in heaps, MiB": info.fordblks / MIB,
        "trimmable top, MiB": info.keepcost / MIB,
    }
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        c.fopen.restype = ctypes.c_void_p
        c.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
        c.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
        c.fclose.argtypes = (ctypes.c_void_p,)
        handle = c.fopen(out.name.encode(), b"w")
        c.malloc_info(0, handle)
        c.fclose(handle)
        xml = Path(out.name).read_text()
    heaps = re.findall(r'<heap nr="(\d+)">(.*?)</heap>', xml, re.S)
    found["arenas"] = len(heaps)
    per_heap = []
    for _, body in heaps:
        total = re.search(r'<system type="current" size="(\d+)"/>', body)
        free = re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"/>', body)
        per_heap.append(
            (
                round(int(total.group(1)) / MIB, 1) if total else 0,
                round(sum(map(int, free)) / MIB, 1),
            )
        )
    found["arenas (MiB held, MiB free)"] = per_heap
    return found


def pymalloc() -> dict[str, float]:
    found: dict[str, float] = {"allocated blocks": sys.getallocatedblocks()}
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()  # noqa: SLF001 - CPython's own statistics
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    # "N arenas * 1048576 bytes/arena = ..." (1 MiB each since Python 3.10)
    match = re.search(r"([\d,]+) arenas \* ([\d,]+) bytes/arena", text)
    if match:
        count, size = (int(group.replace(",", "")) for group in match.groups())
        found["pymalloc arenas, MiB"] = count * size / MIB
    match = re.search(r"Total\s*=\s*([\d,]+)", text)
    if match:
        found["pymalloc total, MiB"] = int(match.group(1).replace(",", "")) / MIB
    return found


def deep_size(value: object, seen: set[int]) -> int:
    """Bytes `value` holds through containers and slots (each object once)."""
    stack, total = [value], 0
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        else:
            for name in getattr(type(item), "__slots__", ()):
                with contextlib.suppress(AttributeError):
                    stack.append(getattr(item, name))
            if hasattr(item, "__dict__") and type(item).__module__.startswith("mapapp"):
                stack.append(item.__dict__)
    return total


def caches(app: object) -> dict[str, object]:
    extensions = getattr(app, "extensions", {})
    found: dict[str, object] = {}
    entries = extensions.get("mapapp.public_entries")
    if entries is not None:
        seen: set[int] = set()
        parts = sum(deep_size(entry.parts, seen) for entry in list(entries.entries.values()))
        rallies = sum(
            deep_size(getattr(entry, "_rally", None), seen)
            for entry in list(entries.entries.values())
        )
        found["entries"] = len(entries.entries)
        found["entries' parts (deep), MiB"] = parts / MIB
        found["entries' rallies (deep), MiB"] = rallies / MIB
        found["entries themselves and keys (deep), MiB"] = deep_size(entries.entries, seen) / MIB
        found["parts budget counted, MiB"] = sum(entries.held.values()) / MIB
    chunks = extensions.get("mapapp.gzip_chunks")
    if chunks is not None:
        found["chunk cache, MiB"] = chunks.size / MIB
        found["chunks"] = len(chunks.chunks)
    memo = 0
    kept = 0
    for name, value in list(extensions.items()):
        if name.endswith("_cache") and isinstance(value, dict):
            memo += deep_size(value, set())
            kept += len(value)
    found["memoized documents (deep), MiB"] = memo / MIB
    found["memoized documents"] = kept
    return found


def by_type() -> list[tuple[str, int, float]]:
    counts: dict[str, list[float]] = {}
    for item in gc.get_objects():
        kind = type(item).__qualname__
        row = counts.setdefault(kind, [0, 0])
        row[0] += 1
        row[1] += sys.getsizeof(item)
    top = sorted(counts.items(), key=lambda item: -item[1][1])[:15]
    return [(kind, int(count), round(size / MIB, 1)) for kind, (count, size) in top]


def traced() -> dict[str, object]:
    import tracemalloc

    if not tracemalloc.is_tracing():
        return {}
    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    top = snapshot.statistics("lineno")[:25]
    files = snapshot.statistics("filename")[:15]
    return {
        "traced now / peak, MiB": [round(current / MIB, 1), round(peak / MIB, 1)],
        "top lines (MiB, blocks)": [
            (str(stat.traceback[0]), round(stat.size / MIB, 2), stat.count) for stat in top
        ],
        "top files (MiB)": [
            (str(stat.traceback[0].filename), round(stat.size / MIB, 2)) for stat in files
        ],
    }


def report(app: object) -> dict[str, object]:
    started = time.perf_counter()
    found: dict[str, object] = {"pid": os.getpid(), "before": status()}
    c = libc()
    if c is not None:
        found["malloc"] = malloc(c)
    found["python"] = pymalloc()
    found["caches"] = caches(app)
    found["modules"] = len(sys.modules)
    found["threads"] = len(os.listdir("/proc/self/task"))
    found["types"] = by_type()
    found["tracemalloc"] = traced()
    gc.collect()
    found["after gc.collect"] = status()
    if c is not None:
        trimmed = time.perf_counter()
        c.malloc_trim(0)
        found["malloc_trim(0) seconds"] = time.perf_counter() - trimmed
        found["after malloc_trim(0)"] = status()
        found["malloc after trim"] = malloc(c)
    with contextlib.suppress(ImportError):
        from mapapp.web import heap

        found["trims by the app (count, seconds)"] = [heap.done["trims"], heap.done["seconds"]]
    found["seconds"] = time.perf_counter() - started
    return found


def post_worker_init(worker: object) -> None:
    folder = Path(os.environ["MAPAPP_BENCH_INSPECT"])
    app = worker.wsgi

    def write(_signal: int, _frame: object) -> None:
        found = report(app)
        path = folder / f"{os.getpid()}.json"
        path.with_suffix(".tmp").write_text(json.dumps(found, indent=1, default=str))
        path.with_suffix(".tmp").rename(path)

    signal.signal(signal.SIGUSR2, write)
