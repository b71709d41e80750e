"""Compressed public pages: gzip or brotli by Flask-Compress, for anonymous GETs only.

The feeds and the fingerprinted files come compressed already (prepared once per version).
Pages did not: the list of rallies is 135 KB of HTML, 13 KB gzipped. nginx could compress
them itself, but it would do so again for every reader of its micro-cache (measured: a
third fewer requests a second under bench/load.py); compressed here, nginx keeps the
compressed bytes (one copy per Accept-Encoding, as Vary says) and serves them as they are.

Only responses that carry no secret are compressed: a GET or HEAD without a cookie whose
answer sets none. A page with a CSRF token (a form, the moderators' pages) comes with a
session cookie and is left alone, so a page never mixes a secret with text an attacker can
put into it under compression (BREACH).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from flask import Flask, Response, g, request, request_finished
from flask_compress import Compress

# Text the site sends that is worth compressing; everything else is binary or comes
# compressed already (feeds, assets: their Content-Encoding is set and they are skipped).
MIMETYPES = ["text/html", "application/json", "text/plain"]


def takes_gzip() -> bool:
    """Whether this request's client takes gzip: named (or "*") with a quality above 0.
    "gzip;q=0" says it does not (RFC 9110, 12.5.3), though werkzeug's `in` finds it."""
    return request.accept_encodings["gzip"] > 0


def takes_compression() -> bool:
    """Whether this request's client takes br or gzip at all. Flask-Compress picks the best
    rated of them even when that is rated 0: "gzip;q=0" alone got gzip."""
    return max(request.accept_encodings[name] for name in ("br", "gzip")) > 0


def public_response(response: Response) -> bool:
    """True when `response` is the same for everyone who asks for it this way (read once the
    response is final, session cookie included)."""
    return (
        request.method in ("GET", "HEAD")
        and "Cookie" not in request.headers
        and "Authorization" not in request.headers
        and "Set-Cookie" not in response.headers
        and not response.is_streamed
    )


class CompressedBodies:
    """Flask-Compress's cache: the newest compressed bodies, by algorithm and a digest of
    the plain body (see body_key), so a page served again is not compressed again."""

    def __init__(self, entries: int = 128) -> None:
        self.entries = entries
        self.data: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.entries:
                self.data.popitem(last=False)


def body_key(_request: object) -> str:
    """The cache key of the body being compressed: its BLAKE2 digest (set by
    compress_finished), so equal bytes share one compressed copy and changed bytes never do."""
    return g.compress_digest


def compress_finished(sender: Flask, response: Response, **_extra: object) -> None:
    """On request_finished: the response as it goes out, compressed in place when public.

    Not an after_request function: Flask sets the session cookie after those run, and
    reading the session there to find out would add "Vary: Cookie" to every page.
    """
    if not public_response(response):
        return
    if response.status_code == 304 or not takes_compression():
        # No body to compress (a 304: the Vary of the 200 it stands for, RFC 9110, 15.4.5),
        # or a client that refuses both encodings: sent as it is, for this Accept-Encoding.
        response.vary.add("Accept-Encoding")
    else:
        known = g.get("body_key")  # a page made once (views.caching.page_once)
        g.compress_digest = (
            known or hashlib.blake2b(response.get_data(), digest_size=16).hexdigest()
        )
        sender.extensions["mapapp.compress"].after_request(response)


def init_app(app: Flask) -> None:
    """Compress public pages (see public_response) as they leave the app."""
    app.config.setdefault("COMPRESS_REGISTER", False)  # compress_finished decides what
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_STREAMS", False)
    app.config.setdefault("COMPRESS_CACHE_BACKEND", CompressedBodies)
    app.config.setdefault("COMPRESS_CACHE_KEY", body_key)
    app.extensions["mapapp.compress"] = Compress(app)
    request_finished.connect(compress_finished, app)
