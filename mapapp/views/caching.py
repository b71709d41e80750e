"""HTTP caching shared by the machine-readable lists: the GeoJSON and the feeds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from flask import Response, current_app, request

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


def memoized(name: str, key: str, build: Callable[[], T], entries: int = 64) -> T:
    """The newest few results of `build` in this process, by key (an ETag, say).

    A list of 10,000 rallies takes a few tenths of a second to build as GeoJSON and
    seconds as iCalendar: each worker builds it once a minute at most, not once a visitor.
    """
    cache: dict[str, T] = current_app.extensions.setdefault(f"mapapp.{name}_cache", {})
    found = cache.get(key)
    if found is not None:
        return found
    # Built outside the lock (two threads may build the same once); the eviction and the
    # insert under it, so another thread's eviction cannot race ours (a KeyError before).
    value = build()
    with _memo_lock:
        while len(cache) >= entries:
            cache.pop(next(iter(cache)), None)  # the oldest
        cache[key] = value
    return value
