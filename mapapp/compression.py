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

from flask import Flask, Response, request, session
from flask_compress import Compress

# Text the site sends that is worth compressing; everything else is binary or comes
# compressed already (feeds, assets: their Content-Encoding is set and they are skipped).
MIMETYPES = ["text/html", "application/json", "text/plain"]


def public_response(response: Response) -> bool:
    """True when `response` is the same for everyone who asks for it this way."""
    return (
        request.method in ("GET", "HEAD")
        and "Cookie" not in request.headers
        and "Authorization" not in request.headers
        and "Set-Cookie" not in response.headers
        # The session cookie is added after this (Flask saves the session last).
        and not session.modified
        and not response.is_streamed
    )


def init_app(app: Flask) -> None:
    """Compress public pages (see public_response) after every other after_request."""
    app.config.setdefault("COMPRESS_REGISTER", False)  # our hook below decides what
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress = Compress(app)

    def compress_public(response: Response) -> Response:
        return compress.after_request(response) if public_response(response) else response

    # after_request functions run last registered, first: this one is registered first so
    # that it sees the finished body and headers.
    app.after_request_funcs.setdefault(None, []).insert(0, compress_public)
