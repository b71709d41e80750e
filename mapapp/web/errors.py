"""One place for errors: JSON for machine clients, a page for people; never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import LazyString, force_locale, gettext, lazy_gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, HTTPException, ServiceUnavailable

from mapapp.domain.filters import BadFilter
from mapapp.web.i18n import duration_words
from mapapp.web.limits import retry_seconds

RETRY_AFTER = 5  # seconds, after a database error that is likely to pass
MACHINE_PREFIXES = ("/api/", "/healthz", "/oembed")
MACHINE_SUFFIXES = (".json", ".geojson", ".ics", ".csv", ".atom", ".minisig")

# What people read on an error page, in the page's language: werkzeug's names and texts are
# English. Other codes show werkzeug's.
PAGE_ERRORS = {
    400: (
        lazy_gettext("Bad request"),
        lazy_gettext("The site cannot show what this address asks for."),
    ),
    404: (
        lazy_gettext("Page not found"),
        lazy_gettext(
            "There is nothing at this address: the link may be mistyped, "
            "or the rally is no longer public."
        ),
    ),
    405: (
        lazy_gettext("Method not allowed"),
        lazy_gettext("This address does not accept that kind of request."),
    ),
    429: (
        lazy_gettext("Too many requests"),
        lazy_gettext("Too many tries from your connection. Please try again later."),
    ),
    500: (
        lazy_gettext("Something went wrong"),
        lazy_gettext("The site could not show this page. Please try again later."),
    ),
    413: (
        lazy_gettext("Too much sent"),
        lazy_gettext("What was sent is too large for this site. Shorten it and try again."),
    ),
    503: (
        lazy_gettext("Temporarily unavailable"),
        lazy_gettext("The site is busy or under maintenance. Please try again later."),
    ),
}
# Any other code: werkzeug's (and Flask-Limiter's) names and texts are English only.
OTHER_CLIENT_ERROR = (
    lazy_gettext("Cannot do this"),
    lazy_gettext("The site cannot do what this request asks."),
)


def wants_json() -> bool:
    path = request.path
    return path.startswith(MACHINE_PREFIXES) or path.endswith(MACHINE_SUFFIXES)


def handle_http_error(error: HTTPException) -> tuple[Response | str, int, Headers]:
    code = error.code or 500
    # Keep the error's own headers, such as Allow on a 405 (RFC 9110 requires it).
    headers = Headers(error.get_headers())
    headers.remove("Content-Type")
    if wants_json():
        # Machine clients get the same English text whatever their Accept-Language.
        with force_locale("en"):
            message = str(error.description)
        return jsonify(error=error.name, message=message, status=code), code, headers
    other = OTHER_CLIENT_ERROR if code < 500 else PAGE_ERRORS[500]
    title, text = PAGE_ERRORS.get(code, other)
    if isinstance(error.description, LazyString):
        text = error.description  # our own translated message, such as a bad filter's
    if code == 429:
        text = too_many_text()
        wait = retry_seconds()
        if wait is not None:
            headers["Retry-After"] = str(wait)
    return render_template("error.html", code=code, title=title, text=text), code, headers


def too_many_text() -> str:
    """The 429's words with the real wait (the broken limit's reset), never "a minute"."""
    wait = retry_seconds()
    if g.get("site_busy"):  # the whole site's builds are spent (mapapp.web.limits.may_build)
        return gettext(
            "Very many people are asking for new lists and copies at once. "
            "Please try again in a minute."
        )
    if wait is None:
        return gettext("Too many tries from your connection. Please try again later.")
    return gettext(
        "Too many tries from your connection. Try again in %(wait)s.",
        wait=duration_words(wait),
    )


def handle_database_unavailable(error: OperationalError) -> tuple[Response | str, int, Headers]:
    """The database could not be reached or was busy (restarted, connection dropped, locked
    past the busy timeout): a 503 that asks to try again, not a 500. Nothing was stored (the
    transaction did not commit), and the pool replaces the dropped connection (pool_pre_ping).

    Logged like any server error (mapapp.web.logs keeps values out of the line).
    """
    current_app.log_exception((type(error), error, error.__traceback__))
    return handle_http_error(
        ServiceUnavailable("The database is unavailable for a moment.", retry_after=RETRY_AFTER)
    )


def handle_bad_filter(error: BadFilter) -> tuple[Response | str, int, Headers]:
    return handle_http_error(BadRequest(error.args[0]))


def handle_csrf_error(error: CSRFError) -> tuple[Response | str, int, Headers]:
    return handle_http_error(
        BadRequest(
            lazy_gettext(
                "The form has expired or came from another site. Reload the page and try again."
            )
        )
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(BadFilter, handle_bad_filter)
    app.register_error_handler(OperationalError, handle_database_unavailable)
