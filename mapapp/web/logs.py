"""Logs that hold nothing private: visitors and organizers of this map face surveillance.

A request is logged by its route (the URL rule, ``/manage/<token>``), never by its raw
target: no query string (``/api/geocode?q=`` is a typed address, ``/api/reverse?lat=`` a
pin), no path segment that is a secret or a place, no client address, no Referer or
User-Agent. This holds for gunicorn's access and error logs (:class:`GunicornLogger`,
named in gunicorn.conf.py), werkzeug's development server (``flask run``) and the
exceptions Flask logs (their messages can quote a database row: only the exception's
type and the code's lines are written).
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

# The key under which the app leaves the matched route in the WSGI environ, for gunicorn.
ROUTE_KEY = "mapapp.route"
UNMATCHED = "(no route)"

# An IPv4 or IPv6 address at the start of a line, as werkzeug's request log writes it.
_LEADING_ADDRESS = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+) - - ")
# A request line: METHOD TARGET PROTOCOL (werkzeug decodes the target: it may hold spaces),
# possibly coloured by werkzeug.
_REQUEST_LINE = re.compile(r"^([A-Z]{1,16}) (.+?)(?: (HTTP/[0-9.]+))?$", re.DOTALL)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What can be left of a logged text: anything that looks like an address or a URL goes.
_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}\b")
_URL_OR_PATH = re.compile(r"(?:[a-z][a-z0-9+.-]*://\S*|/\S*)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|'[^']*$|\"[^\"]*$")


def route_of(url_map: Map, method: str, path: str) -> str:
    """The URL rule a method and path match (``/manage/<token>``), or ``(no route)``."""
    try:
        rule, _args = url_map.bind("localhost").match(
            path.split("?", 1)[0], method, return_rule=True
        )
    except HTTPException:  # 404, 405, or a redirect werkzeug would answer with
        return UNMATCHED
    except Exception:  # noqa: BLE001 - a log line must never raise
        return UNMATCHED
    return rule.rule


def redact(text: str) -> str:
    """A free text from a server library with addresses, URLs and paths taken out.

    A quoted part goes whole: gunicorn quotes a request line it cannot parse
    ("Invalid HTTP request line: 'GET /manage/<token>?lang=ру HTTP/1.1'"), where raw bytes
    read as Latin-1 may contain what a regular expression takes for a space.
    """
    text = _QUOTED.sub("(quoted)", text)
    return _URL_OR_PATH.sub("(target)", _ADDRESS.sub("(address)", text))


class WerkzeugRequestLog(logging.Filter):
    """werkzeug's development server log: the route instead of the target, no address."""

    def __init__(self, url_map: Map) -> None:
        super().__init__()
        self.url_map = url_map

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _LEADING_ADDRESS.sub("- - - ", record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        if args and '"%s" %s %s' in str(record.msg):
            match = _REQUEST_LINE.match(_ANSI.sub("", str(args[0])))
            if match:
                method, target, protocol = match.groups()
                line = f"{method} {route_of(self.url_map, method, target)} {protocol or ''}"
                record.args = (line.strip(), *args[1:])
            else:
                record.args = ("(request)", *args[1:])
        elif args:
            # "code 400, message Bad request syntax ('GET /x?q=...')" and the like.
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


def current_route() -> str:
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def remember_route() -> None:
    """Leave the matched route in the environ, where gunicorn's access log finds it."""
    request.environ[ROUTE_KEY] = current_route()


# Database errors about the database itself (a missing table, a refused connection): their
# messages quote no row. Integrity and data errors do ("Failing row contains ..."): left out.
SAFE_MESSAGES = frozenset({"OperationalError", "ProgrammingError"})

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def format_exception_safely(exc_info: ExcInfo) -> str:
    """A traceback of code lines and exception types only.

    Exception messages are left out: a database error quotes the failing row
    ("Failing row contains (..., contact, ...)", "Key (x)=(...) already exists"), a
    ValueError the value it refused. The SQL of a statement error is kept: it holds
    placeholders, not values (the engine is made with hide_parameters).
    """
    _type, error, tb = exc_info
    if error is None:
        return ""
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[BaseException] = []
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or error.__context__
    for position, error in enumerate(reversed(chain)):
        if position:
            lines.append("\nDuring handling of the above exception, another exception occurred:\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(error.__traceback__))
        name = f"{type(error).__module__}.{type(error).__qualname__}"
        if type(error).__name__ in SAFE_MESSAGES:
            # "no such table", "connection refused": what an operator needs, and no values.
            message = str(getattr(error, "orig", None) or error).splitlines()[0][:300]
        else:
            message = "(message not logged)"
        statement = getattr(error, "statement", None)
        detail = f" [SQL: {str(statement)[:300]}]" if isinstance(statement, str) else ""
        lines.append(f"{name}: {message}{detail}\n")
    return "".join(lines)


class SafeTracebackFormatter(logging.Formatter):
    """A formatter whose tracebacks carry no exception messages."""

    def formatException(self, ei) -> str:  # noqa: ANN001, N802 - logging's name
        return format_exception_safely(ei).rstrip("\n")


def log_exception(app: Flask, exc_info: ExcInfo) -> None:
    """What Flask's ``log_exception`` does, by route and without messages or form data."""
    app.logger.error(
        "Exception on %s [%s]\n%s",
        current_route(),
        request.method,
        format_exception_safely(exc_info).rstrip("\n"),
    )


# -- gunicorn ------------------------------------------------------------------------------

try:
    from gunicorn.glogging import Logger as _GunicornBase
except ImportError:  # gunicorn is a dependency; this keeps `import mapapp.web.logs` cheap elsewhere
    _GunicornBase = object  # type: ignore[assignment,misc]


class RedactArgs(logging.Filter):
    """Addresses, URLs and paths out of a library's log arguments: gunicorn's "Error handling
    request %s" quotes the raw target, Flask-Limiter's "ratelimit ... (%s) exceeded" the
    client's address."""

    def __init__(self, keep_info: bool = False) -> None:
        super().__init__()
        self.keep_info = keep_info

    def filter(self, record: logging.LogRecord) -> bool:
        if self.keep_info and record.levelno == logging.INFO:
            return True  # gunicorn's own life: listening, workers booting and exiting
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and not record.args:
            # gunicorn formats some messages itself ("Invalid request from ip=...: ...").
            record.msg = redact(record.msg)
        return True


class GunicornLogger(_GunicornBase):  # type: ignore[misc,valid-type]
    """gunicorn's logger with access-log atoms that hold no private data.

    Whatever ``access_log_format`` says, ``%(r)s`` and ``%(U)s`` are the route the app
    matched (``GET /manage/<token> HTTP/1.1``); the query, client address, Referer,
    User-Agent, user and every request or response header are ``-``.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(RedactArgs(keep_info=True))
        for handler in self.error_log.handlers:
            old = handler.formatter
            handler.setFormatter(
                SafeTracebackFormatter(old._fmt, old.datefmt) if old else SafeTracebackFormatter()  # noqa: SLF001
            )

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict:
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        method = environ.get("REQUEST_METHOD", "-")
        route = environ.get(ROUTE_KEY, UNMATCHED)
        protocol = environ.get("SERVER_PROTOCOL", "-")
        sent = getattr(resp, "sent", None)
        seconds, micro = request_time.seconds, request_time.microseconds
        return {
            "t": self.now(),
            "r": f"{method} {route} {protocol}",
            "s": status,
            "m": method,
            "U": route,
            "H": protocol,
            "b": str(sent) if sent is not None else "-",
            "B": sent,
            "T": seconds,
            "D": seconds * 1_000_000 + micro,
            "M": seconds * 1000 + micro // 1000,
            "L": f"{seconds}.{micro:06d}",
        }


def init_app(app: Flask) -> None:
    werkzeug_log = logging.getLogger("werkzeug")
    for old in [f for f in werkzeug_log.filters if isinstance(f, WerkzeugRequestLog)]:
        werkzeug_log.removeFilter(old)
    werkzeug_log.addFilter(WerkzeugRequestLog(app.url_map))
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, RedactArgs) for f in limiter_log.filters):
        limiter_log.addFilter(RedactArgs())
    app.before_request(remember_route)
