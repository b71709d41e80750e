"""The network side of ActivityPub: fetching actors and posting to inboxes, bounded.

Every request goes to a public https address whose every DNS answer is a public address,
and the connection is made to the address that was checked (no second lookup an attacker
could answer differently). MAPAPP_ACTIVITYPUB_ALLOW_LOCAL lifts both rules for the tests'
fake server. Answers are read up to a size limit within a timeout; nothing of a request or
an answer is logged but the error's type.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

TIMEOUT = 10.0  # seconds, for a whole request
MAX_DOCUMENT = 256 * 1024  # bytes of an actor document
USER_AGENT = "mapapp (rally map; ActivityPub)"


class NetError(Exception):
    """A request could not be made or was refused; `kind` is safe to log and store."""

    def __init__(self, kind: str, status: int | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the Host header (with a port when not the default)
    hostname: str
    port: int
    path: str  # path and query
    address: str  # the checked IP address to connect to


def allow_local() -> bool:
    return bool(current_app.config.get("ACTIVITYPUB_ALLOW_LOCAL"))


# IPv6 prefixes that carry an IPv4 address in their last 32 bits and reach it through a
# gateway (NAT64's well-known prefix, the deprecated IPv4-compatible addresses).
EMBEDDING = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def public_address(address: str) -> bool:
    """Whether `address` (IPv4 or IPv6 text) is public, and so is any IPv4 address an IPv6
    one carries (mapped, NAT64, compatible, 6to4, Teredo): a gateway would reach that one."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and any(ip in prefix for prefix in EMBEDDING):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None and not public_address(str(inner)):
            return False
    return ip.is_global and not ip.is_multicast


def target(url: str) -> Target:
    """Where `url` goes, checked. :raise NetError: not https, no host, or a private address."""
    if len(url) > 2000:
        raise NetError("url_too_long")
    parts = urlsplit(url)
    local = allow_local()
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise NetError("not_https")
    if not parts.hostname or parts.username or parts.password:
        raise NetError("bad_host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise NetError("bad_port") from None
    try:
        answers = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise NetError("dns") from None
    addresses = [answer[4][0] for answer in answers]
    if not addresses or not (local or all(public_address(a) for a in addresses)):
        raise NetError("private_address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.netloc, parts.hostname, port, path, addresses[0])


class _Pinned(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address, with the URL's name for TLS (SNI, checks)."""

    def __init__(self, place: Target, timeout: float) -> None:
        super().__init__(
            place.hostname, place.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = place.address
        self.opened: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.opened = sock  # kept for the watchdog: http.client drops self.sock early
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        self.opened = self.sock


class _PinnedPlain(http.client.HTTPConnection):
    def __init__(self, place: Target, timeout: float) -> None:
        super().__init__(place.hostname, place.port, timeout=timeout)
        self._address = place.address
        self.opened: socket.socket | None = None

    def connect(self) -> None:
        self.sock = self.opened = socket.create_connection((self._address, self.port), self.timeout)


def request(
    method: str,
    place: Target,
    headers: dict[str, str],
    body: bytes | None = None,
    limit: int = MAX_DOCUMENT,
    timeout: float = TIMEOUT,
) -> tuple[int, bytes]:
    """Make one request; (status, body up to `limit` bytes). :raise NetError: it failed,
    took longer than `timeout` seconds, or the answer is larger than `limit`."""
    deadline = time.monotonic() + timeout
    kind = _Pinned if place.scheme == "https" else _PinnedPlain
    connection = kind(place, timeout)
    # The socket's timeout bounds each read, not the whole: a server trickling a byte at a
    # time (in its status line, headers or body) would hold us for ever. At the deadline
    # the socket is shut, which ends any read waiting on it.
    cut = threading.Event()
    watchdog = threading.Timer(timeout, _cut, (connection, cut))
    watchdog.daemon = True
    watchdog.start()
    response: http.client.HTTPResponse | None = None
    try:
        connection.putrequest(method, place.path, skip_host=True, skip_accept_encoding=True)
        sent = {"User-Agent": USER_AGENT, **headers}
        if body is not None:
            sent["Content-Length"] = str(len(body))
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        chunks, size = [], 0
        while True:
            if time.monotonic() > deadline:
                raise NetError("timeout")
            chunk = response.read(16384)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise NetError("too_large", response.status)
            chunks.append(chunk)
        if cut.is_set():  # the end read was the watchdog's, not the server's
            raise NetError("timeout")
        return response.status, b"".join(chunks)
    except TimeoutError:
        raise NetError("timeout") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        if cut.is_set():
            raise NetError("timeout") from None
        raise NetError(type(error).__name__) from None
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()  # it holds the socket once the connection lets go of it
        connection.close()


def _cut(connection: _Pinned | _PinnedPlain, cut: threading.Event) -> None:
    """Shut a connection's socket (from the watchdog's thread): its reads end at once.

    The TCP socket's own shutdown, under TLS too (the TLS one would tear down its state
    under the reading thread)."""
    cut.set()
    sock = connection.opened
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


Signer = Callable[[str, str, str, bytes | None], dict[str, str]]
ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def fetch_json(url: str, sign: Signer, timeout: float = TIMEOUT) -> dict[str, Any]:
    """GET an ActivityPub document, signed by `sign(method, path, host, body)` (Mastodon's
    secure mode answers only signed fetches). :raise NetError: not a 200 JSON object within
    the limits."""
    place = target(url)
    headers = {"Accept": ACCEPT, **sign("GET", place.path, place.host, None)}
    status, body = request("GET", place, headers, timeout=timeout)
    if status != 200:
        raise NetError("status", status)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: a document nested [[[[... deep
        raise NetError("not_json", status) from None
    if not isinstance(document, dict):
        raise NetError("not_json", status)
    return document
