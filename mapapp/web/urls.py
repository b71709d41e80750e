"""The site's own addresses: which host names it answers to, and its absolute links.

The request's Host header is the client's to choose, and a shared cache keeps whatever a
response says. So links are relative wherever a relative one works, and the few absolute
ones (canonical, calendar and CSV feeds, oEmbed, the embed code, the manage link) are built
from declared settings: MAPAPP_BASE_URL (the canonical https://host[/prefix]), MAPAPP_HOSTS
(mirrors under other names) and MAPAPP_ONION_URL. A request for any other host is refused
with 400 (Flask's TRUSTED_HOSTS for the name, and the port checked here). Without
MAPAPP_BASE_URL, and always in development and tests, localhost and 127.0.0.1 are
served on any port.

A path prefix (SCRIPT_NAME, or X-Forwarded-Prefix from a trusted proxy) is
`request.script_root`: url_for puts it in front of every link, and `app_path` takes it off
the site's own addresses again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import click
from flask import Flask, Response, current_app, has_request_context, request, url_for
from werkzeug.exceptions import SecurityError
from werkzeug.routing import RequestRedirect
from werkzeug.sansio.utils import get_host

# Served in development, and in production until MAPAPP_BASE_URL says where the site is.
# (Not [::1]: werkzeug's TRUSTED_HOSTS check cannot name an IPv6 address.)
LOOPBACK_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class Addresses:
    """The declared addresses, parsed once at start (app.extensions["mapapp.urls"])."""

    base: str | None  # canonical origin and prefix, no trailing slash: https://host/map
    origins: dict[str, str] = field(default_factory=dict)  # declared host[:port] -> its origin
    prefixes: tuple[str, ...] = ()  # declared path prefixes (BASE_URL's, ONION_URL's)
    onion: str | None = None  # onion origin and prefix
    loopback: bool = True  # also serve localhost names, on any port


def split_address(value: str, setting: str, path: bool = True) -> tuple[str, str]:
    """An address setting as (origin, prefix): ("https://host", "/map").

    :raise ValueError: not an http(s) address with a host (or, with path=False, with a path).
    """
    parts = urlsplit(value.strip())
    prefix = parts.path.rstrip("/")
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or (prefix and not path)
    ):
        example = "https://rallies.example/map" if path else "https://mirror.example"
        raise ValueError(f"MAPAPP_{setting}: {value!r} is not an address such as {example}")
    return f"{parts.scheme}://{parts.netloc.lower()}", prefix


def parse_addresses(config: dict) -> Addresses:
    """The declared addresses from the settings BASE_URL, HOSTS, ONION_URL.

    :raise ValueError: a setting that is not an address (the message names it).
    """
    origins: dict[str, str] = {}
    prefixes: list[str] = []
    base = onion = None
    if config.get("BASE_URL"):
        origin, prefix = split_address(config["BASE_URL"], "BASE_URL")
        base = origin + prefix
        origins[urlsplit(origin).netloc] = origin
        prefixes.append(prefix)
    for entry in (config.get("HOSTS") or "").split():
        origin, _ = split_address(entry, "HOSTS", path=False)
        origins.setdefault(urlsplit(origin).netloc, origin)
    if config.get("ONION_URL"):
        origin, prefix = split_address(config["ONION_URL"], "ONION_URL")
        onion = origin + prefix
        origins.setdefault(urlsplit(origin).netloc, origin)
        prefixes.append(prefix)
    development = bool(config.get("DEVELOPMENT") or config.get("TESTING"))
    return Addresses(
        base=base,
        origins=origins,
        prefixes=tuple(p for p in prefixes if p),
        onion=onion,
        loopback=development or base is None,
    )


def addresses() -> Addresses:
    return current_app.extensions["mapapp.urls"]


def _request_host() -> str:
    """The host[:port] asked for, lower case, default port dropped (no trust check here)."""
    environ = request.environ
    server = (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0) or None)
    try:
        return get_host(request.scheme, request.headers.get("Host"), server).lower()
    except SecurityError:  # characters no host name has
        return ""


def _hostname(host: str) -> str:
    return host.rsplit(":", 1)[0] if not host.endswith("]") else host


def origin_of(host: str) -> str | None:
    """The origin this site has under a host[:port], or None when it is not one of its names."""
    found = addresses()
    if host in found.origins:
        return found.origins[host]
    if found.loopback and _hostname(host) in LOOPBACK_NAMES:
        return f"{request.scheme}://{host}"
    return None


def current_origin() -> str:
    """scheme://host of this request, as declared: a mirror's links stay on that mirror.

    Never the raw Host header: an undeclared one was refused before the view ran (and an
    error page built for it gets the canonical origin).
    """
    origin = origin_of(_request_host())
    if origin is not None:
        return origin
    base = addresses().base
    return urlsplit(base)._replace(path="").geturl() if base else ""


def site_key() -> str:
    """Where this response's absolute links point (origin and prefix): part of cache keys and
    ETags of bodies that hold such links, so one origin's body is never another's."""
    return current_origin() + request.script_root


def external_url(endpoint: str, **values: object) -> str:
    """url_for, absolute, on this request's declared origin (and its path prefix)."""
    return current_origin() + url_for(endpoint, **values)


def page_address() -> str:
    """The address of this request (path prefix and query included) on its declared origin."""
    query = request.query_string.decode("latin-1")
    return current_origin() + request.script_root + request.path + (f"?{query}" if query else "")


def canonical_url(path: str) -> str:
    """The canonical address of a path url_for gave (prefix included): on MAPAPP_BASE_URL,
    or on this request's declared origin when no base URL is set.

    Outside a request (a worker posting links, the export) `path` is a path inside the app,
    such as "/rallies/5", and MAPAPP_BASE_URL is needed.

    :raise RuntimeError: outside a request without MAPAPP_BASE_URL.
    """
    base = addresses().base
    if not has_request_context():
        if base is None:
            raise RuntimeError("Set MAPAPP_BASE_URL: links made outside a request need it.")
        return base + path
    if base is None:
        return current_origin() + path
    root = request.script_root
    if root and (path == root or path.startswith(root + "/") or path.startswith(root + "?")):
        path = path[len(root) :]
    return base + (path or "/")


def app_path(url: str) -> tuple[str, str] | None:
    """The path inside the app (and the query) of an address of this site, or None.

    The site's addresses are its declared origins (and, in development, this request's),
    each under this request's path prefix or a declared one.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    netloc = parts.netloc.lower()
    if origin_of(netloc) is None and netloc != _request_host():
        return None
    path = parts.path or "/"
    for prefix in sorted({request.script_root, *addresses().prefixes}, key=len, reverse=True):
        if not prefix:
            return path, parts.query
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix) :] or "/", parts.query
    return None


def check_host() -> Response | None:
    """Refuse (400) a Host that is not one of the site's names, port included.

    A plain answer, not the error page: with an untrusted Host, Flask cannot build links.
    Also makes werkzeug's trailing-slash redirects relative: it builds them from the Host.
    Refuses too a path prefix that would make links name another host ("//host", "/\\host":
    a proxy passing a client's X-Forwarded-Prefix on, and a cache keeping the page).
    """
    if origin_of(_request_host()) is None:
        response = Response("400 Bad Request: unknown host name\n", 400, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        return response
    if request.script_root.startswith("//") or "\\" in request.script_root:
        response = Response("400 Bad Request: bad path prefix\n", 400, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        return response
    redirect = request.routing_exception
    if isinstance(redirect, RequestRedirect):
        parts = urlsplit(redirect.new_url)
        redirect.new_url = urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def onion_location(response: Response) -> Response:
    """Pages say where the same page is on the onion service (Tor Browser offers to go)."""
    onion = addresses().onion
    if (
        onion
        and response.mimetype == "text/html"
        and current_origin() != urlsplit(onion)._replace(path="").geturl()
    ):
        query = request.query_string.decode("latin-1")
        response.headers["Onion-Location"] = onion + request.path + (f"?{query}" if query else "")
    return response


def start_warnings(found: Addresses) -> list[str]:
    """What will break with these settings outside development, one sentence each."""
    if found.base is None:
        return [
            "MAPAPP_BASE_URL is not set: only the local names (localhost, loopback) are served "
            "(see docs/operators.md)"
        ]
    # (Tor Browser keeps a Secure cookie on an http:// .onion address: it is end-to-end encrypted.)
    if found.base.startswith("http://") and not _hostname(urlsplit(found.base).netloc).endswith(
        ".onion"
    ):
        return [
            f"MAPAPP_BASE_URL is {found.base}, not https://: the session cookie is Secure, so "
            "browsers drop it over plain HTTP and every form and the moderators' log-in fail; "
            "serve the site over HTTPS (or set MAPAPP_DEVELOPMENT=1 on your own machine)"
        ]
    return []


def init_app(app: Flask) -> None:
    found = parse_addresses(app.config)
    app.extensions["mapapp.urls"] = found
    # Said when the site starts (gunicorn), not discovered as a 400 on every page; not before
    # every command (flask --app mapapp ...), nor in development.
    serving = click.get_current_context(silent=True) is None
    if serving and not (app.config.get("DEVELOPMENT") or app.config.get("TESTING")):
        for warning in start_warnings(found):
            app.logger.warning(warning)
    if app.config.get("TRUSTED_HOSTS") is None:
        names = {_hostname(host) for host in found.origins}
        if found.loopback:
            names.update(LOOPBACK_NAMES)
        app.config["TRUSTED_HOSTS"] = sorted(names)
    app.before_request(check_host)
    app.after_request(onion_location)
    app.jinja_env.globals["external_url"] = external_url
    app.jinja_env.globals["canonical_url"] = canonical_url
    app.jinja_env.globals["page_address"] = page_address
