"""HTTP caching shared by the machine-readable lists: the GeoJSON and the feeds."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, request


def conditional(etag: str, build: Callable[[], Response]) -> Response:
    """A 304 when the client already holds `etag`, else `build()`; both cacheable publicly.

    The body is built only when it is needed: a calendar app polling a feed mostly gets 304s.
    """
    response = Response(status=304) if etag in request.if_none_match else build()
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["CACHE_SECONDS"]
    return response
