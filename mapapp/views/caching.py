"""HTTP caching shared by the machine-readable lists: the GeoJSON and the feeds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from flask import Response, current_app, request
from werkzeug.exceptions import ServiceUnavailable

T = TypeVar("T")


def conditional(etag: str, build: Callable[[], Response], max_age: int | None = None) -> Response:
    """A 304 when the client already holds `etag`, else `build()`; both cacheable publicly.

    The body is built only when it is needed: a calendar app polling a feed mostly gets 304s.
    `max_age` (seconds) defaults to MAPAPP_CACHE_SECONDS; callers pass less when the data
    version moves sooner by itself (mapapp.public.seconds_until_change).
    """
    response = Response(status=304) if etag in request.if_none_match else build()
    response.set_etag(etag)
    response.cache_control.public = True
    longest = current_app.config["CACHE_SECONDS"]
    response.cache_control.max_age = longest if max_age is None else min(max_age, longest)
    return response


_memo_lock = threading.Lock()
# One big build at a time in a process: a visitor asking for a new filter combination (each
# new ?to= is one) waits for the build before it, and past BUILD_WAIT seconds gets a 503
# with Retry-After, so a handful of such requests cannot take every thread and the memory
# of a worker while cached answers (and pages) go on being served.
_build_gate = threading.BoundedSemaphore(1)
_building = threading.local()
BUILD_WAIT = 10.0  # seconds
RETRY_AFTER = 5  # seconds


def memoized(name: str, key: str, build: Callable[[], T], entries: int = 64) -> T:
    """The newest few results of `build` in this process, by key (an ETag, say).

    A list of 10,000 rallies takes a few tenths of a second to build as GeoJSON and
    seconds as iCalendar: each worker builds it once per data version, not once a visitor.
    Builds take turns (see BUILD_WAIT); a request that cannot get its turn in time is a 503
    with Retry-After.
    """
    cache: dict[str, T] = current_app.extensions.setdefault(f"mapapp.{name}_cache", {})
    found = cache.get(key)
    if found is not None:
        return found
    if getattr(_building, "active", False):  # a build inside a build (a signature's document)
        value = build()
    else:
        if not _build_gate.acquire(timeout=BUILD_WAIT):
            raise ServiceUnavailable(
                "Busy building another list: try again in a few seconds.",
                retry_after=RETRY_AFTER,
            )
        _building.active = True
        try:
            found = cache.get(key)  # built by the thread we waited for
            value = found if found is not None else build()
        finally:
            _building.active = False
            _build_gate.release()
    # The eviction and the insert under the lock, so another thread's eviction cannot race
    # ours (a KeyError before).
    with _memo_lock:
        while len(cache) >= entries:
            cache.pop(next(iter(cache)), None)  # the oldest
        cache[key] = value
    return value
