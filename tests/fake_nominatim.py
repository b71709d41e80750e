"""A stand-in for Nominatim on 127.0.0.1, with a switch for each way it can fail."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PINSK_STREET = {
    "lat": "52.1138",
    "lon": "26.1032",
    "display_name": "вуліца Леніна, 3, Пінск, Брэсцкая вобласць, Беларусь",
    "address": {"city": "Пінск", "state": "Брэсцкая вобласць", "country_code": "by"},
}
WARSAW = {"lat": "52.2297", "lon": "21.0122", "display_name": "Warszawa", "address": {}}


class FakeNominatim:
    def __init__(self) -> None:
        self.mode = "ok"  # ok, empty, outside, slow, 429, 500, badjson
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                fake.requests.append(
                    {
                        "path": url.path,
                        "query": parse_qs(url.query),
                        "user_agent": self.headers.get("User-Agent"),
                        "at": time.monotonic(),
                    }
                )
                if fake.mode == "slow":
                    time.sleep(2.5)
                if fake.mode in ("429", "500"):
                    self.send_response(int(fake.mode))
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                body = {
                    "ok": [PINSK_STREET],
                    "empty": [],
                    "outside": [WARSAW],
                    "slow": [PINSK_STREET],
                }.get(fake.mode)
                payload = b"{not json" if body is None else json.dumps(body).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(payload)
                except BrokenPipeError:
                    pass  # the client gave up waiting, as it should

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeNominatim:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()
