"""A worker's C heap (mapapp.web.heap): a build's freed memory is given back to the system,
and a worker's threads share at most two malloc arenas. glibc only (Linux)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask

from mapapp.web import heap
from mapapp.web.caching import memoized

pytestmark = pytest.mark.skipif(heap.glibc() is None, reason="glibc's allocator only")

MIB = 2**20


def resident() -> float:
    """This process's resident memory, MiB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1)) / 1024


def fragmenting_build(kept: list) -> bytes:
    """About 200 MB of small blocks in the C heap (bytes past pymalloc's 512), freed when it
    returns but for one in 64: those still in use hold the heap's top, so glibc cannot give
    the pages between them back by itself, as a build's entries and cached chunks do."""
    blocks = [bytes(1000 + n % 64) for n in range(200_000)]
    kept.append(blocks[::64])
    return b"built"


def test_a_build_gives_the_heap_it_freed_back_once_its_answer_is_sent(app: Flask):
    kept: list = []

    def view() -> bytes:
        return memoized("heap_test", "one", lambda: fragmenting_build(kept), counted=False)

    app.add_url_rule("/heap-test", "heap_test", view)
    client = app.test_client()
    heap.trim()
    before = resident()
    response = client.get("/heap-test")
    assert response.data == b"built"
    response.close()  # the server closes the answer once sent: the trim runs then
    grown = resident() - before
    assert kept, "the build ran"
    assert grown < 60, f"{grown:.0f} MiB still resident after the build"
    # A kept answer builds nothing, so trims nothing.
    trims = heap.done["trims"]
    client.get("/heap-test").close()
    assert heap.done["trims"] == trims


def test_a_build_outside_a_request_gives_the_heap_back_at_once(app: Flask):
    """A preparation of the common documents builds one after another outside a visitor's
    request: each build's freed heap goes back as soon as it is done."""
    kept: list = []
    with app.app_context():
        heap.trim()
        before = resident()
        memoized("heap_test", "two", lambda: fragmenting_build(kept), counted=False)
        grown = resident() - before
    assert grown < 60, f"{grown:.0f} MiB still resident after the build"


ARENAS = textwrap.dedent(
    """
    import ctypes, re, sys, tempfile, threading
    if sys.argv[1] == "configured":
        import mapapp.web.gunicorn_conf  # noqa: F401 - what gunicorn's master reads
    barrier = threading.Barrier(6)

    def work():
        barrier.wait()
        blocks = [bytes(2000) for _ in range(2000)]
        barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    c = ctypes.CDLL("libc.so.6")
    c.fopen.restype = ctypes.c_void_p
    c.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    c.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    c.fclose.argtypes = (ctypes.c_void_p,)
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        handle = c.fopen(out.name.encode(), b"w")
        c.malloc_info(0, handle)
        c.fclose(handle)
        print(len(re.findall('<heap nr=', open(out.name).read())))
    """
)


def arenas(how: str, **environ: str) -> int:
    """How many malloc arenas a process has once 6 threads have allocated at once."""
    env = {**os.environ, "MAPAPP_SECRET_KEY": "test", **environ}
    env.pop("MALLOC_ARENA_MAX", None)
    env.update(environ)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", ARENAS, how],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.split()[-1])


def test_a_workers_threads_share_at_most_two_malloc_arenas():
    """gunicorn's master reads mapapp.web.gunicorn_conf before it forks the workers: each
    worker's threads then allocate from at most 2 arenas, not one a thread (each keeping the
    pages its builds freed); MALLOC_ARENA_MAX, when an operator sets it, says otherwise."""
    assert arenas("plain") > 2  # without the setting, one arena a thread
    assert arenas("configured") <= 2
    assert arenas("configured", MALLOC_ARENA_MAX="4") == 4
