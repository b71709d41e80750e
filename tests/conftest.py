"""Fixtures in the manner of Flask's tutorial: a fresh database per test, client and runner.

Tests that need PostgreSQL, Redis or Chromium skip when those are missing, except
under MAPAPP_TEST_STRICT=1 (set by .ci/run), where such a skip is a failure.
"""

from __future__ import annotations

import atexit
import base64
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fake_telegram import TOKEN as TG_TOKEN
from fake_telegram import FakeTelegram
from flask import Blueprint, Flask, Response
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from mapapp import create_app
from mapapp.domain import db, lifecycle
from mapapp.domain.models import Status
from mapapp.web.i18n import TRANSLATIONS

STRICT = os.environ.get("MAPAPP_TEST_STRICT") == "1"
PG_URL = os.environ.get("MAPAPP_TEST_DATABASE_URL")
CHROMIUM = os.environ.get("MAPAPP_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under MAPAPP_TEST_STRICT=1: {report.longrepr}"


# Contacts are encrypted in every test, as in production (a Fernet key made for the tests).
CONTACT_KEY = "4Zi86stjb46tcJmRwkFprA-8Z-RRZOOdum_14yHqSpw="


def make_app(database_url: str, **extra) -> Flask:  # noqa: ANN003
    # One approval publishes, unless a test asks for more (tests/test_approvals.py does).
    settings = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "APPROVALS": 1}
    # Tests walk hundreds of URLs from one client: tests/test_costly.py sets its own build limits.
    # Likewise the queue's total limit: tests/test_queue_limit.py sets its own.
    settings |= {"BUILD_LIMIT": "100000 per minute", "BUILD_TOTAL_LIMIT": "100000 per minute"}
    settings |= {"PENDING_LIMIT": 100000}
    # Moderators log in with a password only, unless a test asks for the second factor
    # (tests/test_second_factor.py does).
    settings |= {"SECOND_FACTOR": "optional"}
    # Changes prepare no documents ahead in a thread, unless a test asks for it
    # (tests/test_partstore.py does): counts of builds and documents stay the tests' own.
    settings |= {"PREPARE_DOCUMENTS": False}
    app = create_app({**settings, "CONTACT_KEY": CONTACT_KEY, **extra})
    with app.app_context():
        db.upgrade_schema()
    return app


_own_database: list[str] = []


def own_postgres() -> str:
    """This test process's own database beside MAPAPP_TEST_DATABASE_URL's (its name and the
    process id), made once and dropped at exit: two test runs at once on one server (two
    checkouts, a developer's run beside CI's) cannot drop each other's tables."""
    if _own_database:
        return _own_database[0]
    url = make_url(db.normalise_url(PG_URL))
    name = f"{url.database}_{os.getpid()}"
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

    atexit.register(drop)
    _own_database.append(url.set(database=name).render_as_string(hide_password=False))
    return _own_database[0]


def fresh_postgres() -> str:
    """An empty PostgreSQL database for one test (this process's own, its schema made anew)."""
    if not PG_URL:
        pytest.skip("MAPAPP_TEST_DATABASE_URL is not set")
    url = own_postgres()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


# -- Telegram: the fake Bot API (tests/fake_telegram.py) and an app that talks to it ------

TG_CHANNEL = "@rallies_by"
TG_BASE = "https://map.example"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fake Bot API on 127.0.0.1 (records calls, plays scripted updates and errors)."""
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def tg_settings() -> dict:
    """Settings added to `tg_app`'s (a test module overrides this fixture to add its own)."""
    return {}


@pytest.fixture
def tg_app(sqlite_url: str, fake: FakeTelegram, tg_settings: dict) -> Iterator[Flask]:
    """The app on a fresh SQLite file, its bot and channel on the fake Bot API, in English."""
    app = make_app(
        sqlite_url,
        **{
            "TELEGRAM_BOT_TOKEN": TG_TOKEN,
            "TELEGRAM_CHANNEL": TG_CHANNEL,
            "TELEGRAM_API_URL": fake.url,
            "TELEGRAM_LANGUAGE": "en",
            "BASE_URL": TG_BASE,
            **tg_settings,
        },
    )
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    """The app on a fresh SQLite file, schema created, no rallies."""
    app = make_app(sqlite_url)
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_app(request, sqlite_url: str) -> Iterator[Flask]:  # noqa: ANN001
    """The app on each database the product supports (PostgreSQL when configured)."""
    url = sqlite_url if request.param == "sqlite" else fresh_postgres()
    app = make_app(url)
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture
def client(app: Flask):  # noqa: ANN201
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # noqa: ANN201
    return app.test_cli_runner()


# How add_rally reaches each state through the state table (mapapp.domain.lifecycle).
REACH = {
    Status.PENDING.value: (False, []),
    Status.APPROVED.value: (True, []),
    Status.CANCELLED.value: (True, [("moderator:test", "cancel")]),
    Status.DANGER.value: (True, [("moderator:test", "danger")]),
    Status.MOVED.value: (True, [("moderator:test", "move")]),
    Status.REJECTED.value: (False, [("moderator:test", "reject")]),
    Status.WITHDRAWN.value: (False, [("organizer", "cancel")]),
}


def add_rally(app: Flask, **fields) -> int:  # noqa: ANN003
    """Store one rally (approved, in Minsk, next year) with any field overridden.

    It goes through mapapp.domain.lifecycle like any rally: a public one is published.
    """
    values = {
        "title": "Пікет салідарнасці",
        "description": "Апісанне",
        "town": "Мінск",
        "place": "Плошча Свабоды",
        "region": "BY-HM",
        "lat": 53.9036,
        "lon": 27.5561,
        "starts_at": datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC),
        "status": Status.APPROVED.value,
    }
    values.update(fields)
    approved, steps = REACH[values.pop("status")]
    with app.app_context():
        session = db.session(write=True)
        rally = lifecycle.create(session, values, approved, actor="test")
        reason = values.get("reject_reason") or "test"  # a rejection keeps the reason given
        for actor, action in steps:
            lifecycle.perform(session, rally, actor, action, reason=reason)
        return rally.id


def open_manage(client, token: str, lang: str | None = None) -> int:  # noqa: ANN001
    """Press "Open my rally" on the manage link's first page, as a person's browser does
    (views/submit.py, manage): the client's next GET of the link shows the manage page.
    The answer's status: 303 when the link is valid, 404 when it is not."""
    query = f"?lang={lang}" if lang else ""
    first = client.get("/submit").get_data(as_text=True)  # a page with the session's token
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', first)
    return client.post(f"/manage/{token}/open{query}", data={"csrf_token": csrf[1]}).status_code


@pytest.fixture
def seeded_app(app: Flask) -> Flask:
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on 127.0.0.1 in a thread, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


# A 1x1 PNG: tiles come from the app itself in these tests.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
tiles = Blueprint("test_tiles", __name__)


@tiles.get("/test-tiles/<int:z>/<int:x>/<int:y>.png")
def tile(z: int, x: int, y: int) -> Response:
    return Response(PIXEL, mimetype="image/png")


def browser_app(database_url: str, **extra) -> Flask:  # noqa: ANN003
    """The app with tiles served by itself, so a page needs no other host."""
    app = make_app(database_url, TILE_URL="/test-tiles/{z}/{x}/{y}.png", **extra)
    app.register_blueprint(tiles)
    return app


@pytest.fixture
def seeded_browser_app(sqlite_url: str) -> Iterator[Flask]:
    """The browser tests' app with the seed rallies (the call on October Square and the rest)."""
    app = browser_app(sqlite_url)
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield WorkerlessBrowser(browser)
        browser.close()


class WorkerlessBrowser:
    """The browser, whose new contexts block service workers unless a test asks for them: a
    worker registered by one page (the offline web app) answers requests page.route never sees,
    and keeps answering while the test changes the data."""

    def __init__(self, browser) -> None:  # noqa: ANN001
        self._browser = browser

    def new_context(self, **options):  # noqa: ANN003, ANN201
        options.setdefault("service_workers", "block")
        return self._browser.new_context(**options)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._browser, name)


@pytest.fixture
def page(browser, request):  # noqa: ANN001, ANN201
    # No service worker (the offline web app): page.route does not see the requests a worker
    # answers. tests/test_browser_offline.py allows it.
    workers = "allow" if request.node.get_closest_marker("service_worker") else "block"
    context = browser.new_context(
        locale="en-US", viewport={"width": 1280, "height": 800}, service_workers=workers
    )
    page = context.new_page()
    page.requested = []
    page.errors = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile catalogues whose .mo is missing or older than the .po (make does it too).

    So a test run after editing a .po, or straight after a clone, sees the translations.
    """
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source)
        with mo.open("wb") as target:
            write_mo(target, catalog)  # like pybabel compile: fuzzy entries left out


def wait_until(page, expression: str, timeout: float = 15) -> None:  # noqa: ANN001
    """Polls from Python: the page's CSP forbids the eval that wait_for_function's polling uses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"Boolean({expression})"):
        if time.monotonic() > deadline:
            pytest.fail(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(50)


def tick(page, selector: str) -> None:  # noqa: ANN001
    """Tick a box where it is drawn, as a person does: on a phone its label's 44 px square
    lies over it and takes the click (Playwright's check() waits for the bare box)."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.is_checked(selector), selector
