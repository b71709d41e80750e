"""One place for errors: JSON for machine clients, a page for people; never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, HTTPException

from mapapp.filters import BadFilter

MACHINE_PREFIXES = ("/api/", "/healthz")
MACHINE_SUFFIXES = (".json", ".geojson", ".ics", ".csv")


def wants_json() -> bool:
    path = request.path
    return path.startswith(MACHINE_PREFIXES) or path.endswith(MACHINE_SUFFIXES)


def handle_http_error(error: HTTPException) -> tuple[Response | str, int, Headers]:
    code = error.code or 500
    # Keep the error's own headers, such as Allow on a 405 (RFC 9110 requires it).
    headers = Headers(error.get_headers())
    headers.remove("Content-Type")
    if wants_json():
        return jsonify(error=error.name, message=error.description, status=code), code, headers
    return render_template("error.html", error=error), code, headers


def handle_bad_filter(error: BadFilter) -> tuple[Response | str, int, Headers]:
    return handle_http_error(BadRequest(str(error)))


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(BadFilter, handle_bad_filter)
