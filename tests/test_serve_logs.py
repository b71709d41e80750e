"""No log line of `make serve`'s stack carries a token, a query string or a typed place.

nginx's error lines quote the request line and the Referer; gunicorn quotes a request line it
cannot parse. Both go through the stack here (deploy/serve.py), and the manage page sends no
Referer at all.
"""

from __future__ import annotations

import signal
import socket
import urllib.parse
from pathlib import Path

import pytest
from test_serve import get, run_stack, serve_env

TOKEN = "Zq8TOKENsecretAbCdEfGh123456789x"
TYPED = "вуліца Леніна 15"


@pytest.fixture
def stack(tmp_path: Path):  # noqa: ANN201
    yield from run_stack(tmp_path, serve_env(tmp_path))


def raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer


def test_no_log_line_holds_a_token_a_query_or_a_typed_place(stack) -> None:
    base, port = stack.base, int(stack.base.rsplit(":", 1)[1])
    typed = urllib.parse.quote(TYPED)
    manage = f"{base}/manage/{TOKEN}"
    status, headers, _ = get(f"{manage}?lang=be", headers={"Referer": manage})
    assert status == 200  # the link's first page: the same for any token, valid or not
    assert headers["Referrer-Policy"] == "no-referrer"  # the token goes nowhere as a Referer
    assert get(f"{base}/api/geocode?q={typed}", headers={"Referer": manage})[0] in (200, 404)
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    # A request line gunicorn cannot parse: raw UTF-8 in the target.
    raw(port, f"GET /manage/{TOKEN}?lang=ру HTTP/1.1\r\n".encode() + host + b"\r\n")
    raw(port, f"GET /api/geocode?q={TYPED} HTTP/1.1\r\n".encode() + host + b"\r\n")
    # nginx's error line: a body too large, its request line and Referer quoted.
    too_large = (
        f"POST /api/geocode?q={typed} HTTP/1.1\r\n".encode()
        + host
        + f"Referer: {manage}?q={typed}\r\nContent-Length: 5000000\r\n\r\n".encode()
    )
    assert b" 413 " in raw(port, too_large)
    stack.process.send_signal(signal.SIGTERM)
    stack.process.wait(60)
    logged = stack.log.read_text(encoding="utf-8", errors="replace")
    assert "too large body" in logged  # the error line is there, scrubbed
    assert "/manage/<token>" in logged  # and gunicorn's access lines
    lowered = logged.lower()
    for secret in (TOKEN, TYPED, typed, "лен", "ру", "lang=", "q=", "referrer", "?"):
        assert secret.lower() not in lowered, (secret, logged)
    for encoded in ("%d0%b2", "\xd0\xb2", "Ð"):
        assert encoded.lower() not in lowered, (encoded, logged)
