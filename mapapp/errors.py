"""One place for errors: JSON for machine clients, a page for people; never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException

from mapapp.filters import BadFilter

MACHINE_PREFIXES = ("/api/", "/healthz")
MACHINE_SUFFIXES = (".json", ".geojson", ".ics", ".csv")


def wants_json() -> bool:
    path = request.path
    return path.startswith(MACHINE_PREFIXES) or path.endswith(MACHINE_SUFFIXES)


def handle_http_error(error: HTTPException) -> tuple[Response | str, int]:
    code = error.code or 500
    if wants_json():
        return jsonify(error=error.name, message=error.description, status=code), code
    return render_template("error.html", error=error), code


def handle_bad_filter(error: BadFilter) -> tuple[Response | str, int]:
    return handle_http_error(BadRequest(str(error)))


def handle_csrf_error(error: CSRFError) -> tuple[Response | str, int]:
    return handle_http_error(
        BadRequest(
            _("The form has expired or came from another site. Reload the page and try again.")
        )
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(BadFilter, handle_bad_filter)
