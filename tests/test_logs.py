"""Nothing private in any log line: no contact, token, typed place, pin or client address.

The suite's journeys run with every logger captured (the app, werkzeug's development
server, SQLAlchemy), including a database error while submitting; then gunicorn runs for
real with its access log on and the same kinds of requests.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import add_rally, make_app, open_manage
from sqlalchemy import text
from werkzeug.serving import make_server

from mapapp.domain import db
from mapapp.domain.lifecycle import hash_token
from mapapp.web.logs import route_of

ROOT = Path(__file__).resolve().parent.parent
CONTACT = "secret-organizer-contact@example.org"
TOKEN = "tok-Very-Secret-Manage-Token-0123456789"
TYPED = "вуліца Патаемная 17"  # an address someone typed
PLACE = "Двор за домам 17 на Патаемнай"  # a place an organizer typed
PIN = ("53.912345", "27.554321")
CLIENT = "203.0.113.77"  # the client's address, as a proxy would pass it
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SECRETS = [CONTACT, TOKEN, TYPED, PLACE, *PIN, CLIENT, "127.0.0.1", PASSWORD]
# The same texts as they look in a URL (percent-encoded), which is how a log would hold them.
SECRETS += [urllib.parse.quote(s) for s in (TYPED, PLACE, CONTACT)]
SECRETS += [urllib.parse.quote_plus(s) for s in (TYPED, PLACE, CONTACT)]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def assert_nothing_private(lines: list[str]) -> None:
    text_ = "\n".join(lines)
    for secret in SECRETS:
        assert secret not in text_, f"{secret!r} is in the log:\n{text_}"


def next_week() -> str:
    from datetime import datetime, timedelta

    from mapapp.places.locale import MINSK

    return (datetime.now(MINSK) + timedelta(days=7)).strftime("%Y-%m-%d")


def submit_form(csrf_token: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token,
        "title": "Пікет салідарнасці ў Гродне",
        "town": "Гродно",
        "place": PLACE,
        "date": next_week(),
        "time": "19:00",
        "description": "Прыходзьце.",
        "contact": CONTACT,
        "website": "",
    }
    data.update(changes)
    return data


def journeys(client, app) -> None:
    """The suite's journeys through the test client: a visitor, an organizer, a moderator."""
    headers = {"X-Forwarded-For": CLIENT, "Referer": f"http://localhost/manage/{TOKEN}"}
    assert client.get(f"/api/geocode?q={urllib.parse.quote(TYPED)}").status_code in (200, 404)
    assert client.get(f"/api/reverse?lat={PIN[0]}&lon={PIN[1]}").status_code == 200
    # submit, preview, confirm with a pin
    token = CSRF.search(client.get("/submit").get_data(as_text=True)).group(1)
    assert client.post("/submit", data=submit_form(token), headers=headers).status_code == 200
    confirm = submit_form(token, step="confirm", lat=PIN[0], lon=PIN[1], geonameid="")
    assert client.post("/submit", data=confirm).status_code == 303
    # the manage link, right and wrong
    rally_id = add_rally(app, contact=CONTACT, manage_token_hash=hash_token(TOKEN), place=PLACE)
    assert client.get(f"/manage/{TOKEN}", headers=headers).status_code == 200
    assert open_manage(client, f"{TOKEN}x") == 404
    assert open_manage(client, TOKEN) == 303
    assert client.get(f"/manage/{TOKEN}", headers=headers).status_code == 200
    edit = submit_form(CSRF.search(client.get(f"/manage/{TOKEN}").get_data(as_text=True))[1])
    assert client.post(f"/manage/{TOKEN}/edit", data=edit).status_code == 303
    # a moderator logs in, looks, approves
    login = CSRF.search(client.get("/moderate/login").get_data(as_text=True)).group(1)
    form = {"csrf_token": login, "name": "alesia", "password": PASSWORD}
    assert client.post("/moderate/login", data=form).status_code == 303
    assert client.get(f"/moderate/rallies/{rally_id}").status_code == 200
    action = CSRF.search(client.get("/moderate").get_data(as_text=True)).group(1)
    approve = client.post(f"/moderate/rallies/{rally_id}/approve", data={"csrf_token": action})
    assert approve.status_code == 303
    # past a rate limit (Flask-Limiter logs the client's address it counts by)
    for _ in range(3):
        client.get(f"/api/reverse?lat={PIN[0]}&lon={PIN[1]}")
    assert client.get(f"/api/reverse?lat={PIN[0]}&lon={PIN[1]}").status_code == 429
    # a bad request carrying private text in its query
    assert client.get(f"/rallies?city={urllib.parse.quote(TYPED)}&lat={PIN[0]}").status_code < 500


def test_route_of_names_the_rule_not_the_target(app):
    assert route_of(app.url_map, "GET", f"/manage/{TOKEN}") == "/manage/<token>"
    assert route_of(app.url_map, "GET", f"/api/geocode?q={TYPED}") == "/api/geocode"
    assert route_of(app.url_map, "GET", f"/nothing/{TOKEN}") == "(no route)"


def test_journeys_and_a_database_error_log_nothing_private(sqlite_url, monkeypatch, captured):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    # Errors handled as in production (a 500 page, logged), not raised into the test.
    app = make_app(sqlite_url, PROPAGATE_EXCEPTIONS=False, GEOCODE_LIMIT="3 per minute")
    app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    client = app.test_client()
    journeys(client, app)
    # A database error while submitting: its statement carries the contact and the place.
    with app.app_context(), db.engine().begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER no_rallies BEFORE INSERT ON rally "
                "BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
            )
        )
    token = CSRF.search(client.get("/submit").get_data(as_text=True)).group(1)
    confirm = submit_form(token, step="confirm", lat=PIN[0], lon=PIN[1], geonameid="")
    assert client.post("/submit", data=confirm).status_code == 500
    logged = "\n".join(captured)
    # The limiter names the client by its keyed hash (mapapp.web.keyed), never the address.
    assert re.search(r"ratelimit 3 per 1 minute \([0-9a-f]{64}\) exceeded", logged)
    assert "Exception on /submit [POST]" in logged  # the error is there, for the operator
    assert "IntegrityError" in logged and "INSERT INTO rally" in logged
    assert_nothing_private(captured)
    app.extensions["mapapp.db"]["engine"].dispose()


def test_development_server_logs_routes_only(sqlite_url, monkeypatch, captured):
    """`flask run` serves with werkzeug, whose request log would hold the raw target."""
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app = make_app(sqlite_url)
    add_rally(app, contact=CONTACT, manage_token_hash=hash_token(TOKEN))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        for path in (
            f"/api/geocode?q={urllib.parse.quote(TYPED)}",
            f"/api/reverse?lat={PIN[0]}&lon={PIN[1]}",
            f"/manage/{TOKEN}",
            f"/manage/{TOKEN}zz",
            f"/no/such/{urllib.parse.quote(PLACE)}",
        ):
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(base + path, timeout=10).read()  # noqa: S310
        # A request line werkzeug refuses is logged as an error with the line in it.
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as raw:
            raw.sendall(f"GET /manage/{TOKEN} BAD/9\r\n\r\n".encode())
            raw.recv(1000)
    finally:
        server.shutdown()
        thread.join()
    logged = "\n".join(captured)
    assert '"GET /manage/<token> HTTP/1.1" 200' in logged
    assert '"GET /api/geocode HTTP/1.1" 404' in logged
    assert_nothing_private(captured)
    app.extensions["mapapp.db"]["engine"].dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_access_log_holds_routes_only(sqlite_url, tmp_path):
    app = make_app(sqlite_url)
    add_rally(app, contact=CONTACT, manage_token_hash=hash_token(TOKEN), place=PLACE)
    app.extensions["mapapp.db"]["engine"].dispose()
    port = free_port()
    env = {
        **os.environ,
        "MAPAPP_DATABASE_URL": sqlite_url,
        "MAPAPP_SECRET_KEY": "x" * 32,
        "MAPAPP_ACCESS_LOG": "1",
        "MAPAPP_DEVELOPMENT": "1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    env.pop("MAPAPP_REDIS_URL", None)
    log_path = tmp_path / "gunicorn.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(  # noqa: S603
            [str(gunicorn), "-b", f"127.0.0.1:{port}", "mapapp:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).read()  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.2)
            opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
            )
            headers = {
                "X-Forwarded-For": CLIENT,
                "Referer": f"{base}/api/geocode?q={urllib.parse.quote(TYPED)}",
                "User-Agent": CONTACT,
            }

            def get(path: str) -> str:
                request = urllib.request.Request(base + path, headers=headers)
                try:
                    return opener.open(request, timeout=10).read().decode()
                except urllib.error.HTTPError as error:
                    return error.read().decode()

            get(f"/api/geocode?q={urllib.parse.quote(TYPED)}")
            get(f"/api/reverse?lat={PIN[0]}&lon={PIN[1]}")
            get(f"/manage/{TOKEN}")
            get(f"/manage/{TOKEN}-wrong")
            get(f"/{urllib.parse.quote(PLACE)}")
            token = CSRF.search(get("/submit")).group(1)
            wrong = urllib.parse.urlencode({"csrf_token": token}).encode()
            with contextlib.suppress(urllib.error.HTTPError):
                opener.open(
                    urllib.request.Request(f"{base}/manage/{TOKEN}-wrong/open", wrong, headers),
                    timeout=10,
                )
            body = urllib.parse.urlencode(submit_form(token)).encode()
            opener.open(urllib.request.Request(base + "/submit", body, headers), timeout=10)
        finally:
            server.terminate()
            server.wait(timeout=20)
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    # gunicorn's own address, not a client's
    lines = [line for line in lines if "Listening at: http://127.0.0.1" not in line]
    logged = "\n".join(lines)
    assert '"GET /manage/<token> HTTP/1.1" 200' in logged, logged
    assert '"POST /manage/<token>/open HTTP/1.1" 404' in logged, logged
    assert '"GET /api/geocode HTTP/1.1" 404' in logged, logged
    assert '"GET /api/reverse HTTP/1.1" 200' in logged, logged
    assert '"POST /submit HTTP/1.1" 200' in logged, logged
    assert '"GET (no route) HTTP/1.1" 404' in logged, logged
    assert_nothing_private(lines)


def test_database_errors_never_quote_parameters(app):
    with app.app_context():
        assert db.engine().hide_parameters is True
