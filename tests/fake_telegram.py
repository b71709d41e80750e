"""A stand-in for Telegram's Bot API on 127.0.0.1: records every call, plays scripted updates.

`fail_next` makes the next calls fail (429 with retry_after, 500, or a dropped connection);
`fail_on[method]` the next calls of one method (as Telegram answers them: see ERRORS);
`slow` seconds each answer waits (`slow_on[method]`: one method's); `updates` is a queue that getUpdates hands out after the
asked offset.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TOKEN = "123456:TEST-token"

# Telegram's own answers (error_code, description) for the refusals the worker must handle.
ERRORS = {
    "400-gone": (400, "Bad Request: message to edit not found"),
    "400-delete-gone": (400, "Bad Request: message to delete not found"),
    "400-cant-delete": (400, "Bad Request: message can't be deleted"),
    "400-cant-edit": (400, "Bad Request: message can't be edited"),
    "403-blocked": (403, "Forbidden: bot was blocked by the user"),
    "502": (502, "Bad Gateway"),
}


class FakeTelegram:
    def __init__(self, port: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every call, failed ones too
        self.done: list[tuple[str, dict[str, Any]]] = []  # the calls that succeeded
        # "429", "500", "drop", "400-gone", "retry-forever", "huge", "trickle"
        self.fail_next: list[str] = []
        self.fail_on: dict[str, list[str]] = {}
        self.slow = 0.0
        self.slow_on: dict[str, float] = {}  # seconds the answers of one method wait
        self.updates: list[dict[str, Any]] = []
        self.next_message_id = 100
        self.next_update_id = 1000
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or b"{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    for key, value in params.items():
                        if value[:1] in "{[":
                            params[key] = json.loads(value)
                if self.path.startswith("/_script/"):  # driving it from a shell (README)
                    with fake.lock:
                        if self.path == "/_script/say":
                            fake.say(
                                int(params["chat_id"]), params["text"], params.get("lang", "en")
                            )
                        elif self.path == "/_script/press":
                            fake.press(
                                int(params["chat_id"]), params["data"], params.get("lang", "en")
                            )
                        calls = [{"method": m, **p} for m, p in fake.done]
                    return self.reply(200, {"ok": True, "calls": calls})
                prefix = f"/bot{TOKEN}/"
                if not self.path.startswith(prefix):
                    return self.reply(401, {"ok": False, "error_code": 401})
                method = self.path[len(prefix) :]
                if fake.slow or fake.slow_on.get(method):
                    time.sleep(fake.slow_on.get(method, fake.slow))
                with fake.lock:
                    failure = None
                    if fake.fail_on.get(method):
                        failure = fake.fail_on[method].pop(0)
                    elif fake.fail_next:
                        failure = fake.fail_next.pop(0)
                    fake.calls.append((method, params))
                    if failure is None:
                        result = fake.answer(method, params)
                        fake.done.append((method, params))
                if failure == "drop":
                    self.connection.close()
                    return None
                if failure == "429":
                    return self.reply(
                        429,
                        {"ok": False, "error_code": 429,
                         "description": "Too Many Requests: retry after 1",
                         "parameters": {"retry_after": 1}},
                    )  # fmt: skip
                if failure == "retry-forever":  # a retry_after no one can wait for
                    return self.reply(
                        429,
                        {"ok": False, "error_code": 429, "description": "Too Many Requests",
                         "parameters": {"retry_after": 10**15}},
                    )  # fmt: skip
                if failure == "huge":  # an answer bigger than any the Bot API gives
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()  # no Content-Length: read until it ends
                    with contextlib.suppress(OSError):
                        self.wfile.write(b'{"ok": true, "result": "' + b"x" * 2**20)
                        for _ in range(64):
                            self.wfile.write(b"x" * 2**20)
                    return None
                if failure == "trickle":  # one byte now and then, never the end
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    with contextlib.suppress(OSError):
                        for _ in range(600):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.1)
                    return None
                if failure == "500":
                    return self.reply(500, {"ok": False, "error_code": 500})
                if failure in ERRORS:
                    code, description = ERRORS[failure]
                    return self.reply(
                        code, {"ok": False, "error_code": code, "description": description}
                    )
                return self.reply(200, {"ok": True, "result": result})

            do_GET = do_POST  # noqa: N815

            def reply(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- answers --------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any]) -> Any:  # noqa: ANN401
        if method == "getMe":
            return {"id": 1, "is_bot": True, "first_name": "Map", "username": "map_bot"}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            return [u for u in self.updates if u["update_id"] >= offset]
        if method in ("sendMessage", "sendLocation"):
            self.next_message_id += 1
            return {
                "message_id": self.next_message_id,
                "date": 0,
                "chat": {"id": params.get("chat_id"), "type": "channel"},
                "text": params.get("text", ""),
            }
        if method == "editMessageText":
            return {
                "message_id": int(params["message_id"]),
                "date": 0,
                "chat": {"id": params.get("chat_id"), "type": "channel"},
                "text": params.get("text", ""),
            }
        return True  # deleteMessage, answerCallbackQuery

    # -- scripting ------------------------------------------------------------------

    def say(self, chat_id: int, text: str, language_code: str = "en") -> None:
        """Queue a message from a person in a private chat."""
        self.next_update_id += 1
        user = {"id": chat_id, "is_bot": False, "first_name": "Ales",
                "username": "ales_organizer", "language_code": language_code}  # fmt: skip
        self.updates.append(
            {
                "update_id": self.next_update_id,
                "message": {
                    "message_id": self.next_update_id,
                    "date": 0,
                    "chat": {
                        "id": chat_id,
                        "type": "private",
                        "first_name": "Ales",
                        "username": "ales_organizer",
                    },  # fmt: skip
                    "from": user,
                    "text": text,
                },
            }
        )

    def press(self, chat_id: int, data: str, language_code: str = "en") -> None:
        """Queue a button press in a private chat."""
        self.next_update_id += 1
        user = {"id": chat_id, "is_bot": False, "first_name": "Ales",
                "language_code": language_code}  # fmt: skip
        self.updates.append(
            {
                "update_id": self.next_update_id,
                "callback_query": {
                    "id": str(self.next_update_id),
                    "from": user,
                    "chat_instance": "1",
                    "data": data,
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": chat_id, "type": "private"},
                        "text": "?",
                    },
                },
            }
        )

    def sent(self, method: str | None = None) -> list[dict[str, Any]]:
        """The parameters of the successful calls (of one method)."""
        return [params for name, params in self.done if method is None or name == method]

    def texts_to(self, chat_id: int) -> list[str]:
        return [
            p.get("text", "")
            for name, p in self.done
            if name == "sendMessage" and str(p.get("chat_id")) == str(chat_id)
        ]

    def __enter__(self) -> FakeTelegram:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":  # python tests/fake_telegram.py PORT: a fake to try the worker on
    import sys

    with FakeTelegram(int(sys.argv[1])) as server:
        print(f"Fake Bot API at {server.url}, token {TOKEN}", flush=True)
        server.thread.join()
