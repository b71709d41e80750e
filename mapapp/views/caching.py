"""HTTP caching shared by the machine-readable lists: the GeoJSON and the feeds."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Response, current_app, request

T = TypeVar("T")


def conditional(etag: str, build: Callable[[], Response]) -> Response:
    """A 304 when the client already holds `etag`, else `build()`; both cacheable publicly.

    The body is built only when it is needed: a calendar app polling a feed mostly gets 304s.
    """
    response = Response(status=304) if etag in request.if_none_match else build()
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["CACHE_SECONDS"]
    return response


def memoized(name: str, key: str, build: Callable[[], T], entries: int = 64) -> T:
    """The newest few results of `build` in this process, by key (an ETag, say).

    A list of 10,000 rallies takes a few tenths of a second to build as GeoJSON and
    seconds as iCalendar: each worker builds it once a minute at most, not once a visitor.
    """
    cache: dict[str, T] = current_app.extensions.setdefault(f"mapapp.{name}_cache", {})
    if key not in cache:
        if len(cache) >= entries:
            cache.pop(next(iter(cache)))  # the oldest
        cache[key] = build()
    return cache[key]
