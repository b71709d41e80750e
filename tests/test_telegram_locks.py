"""The worker and the web's writes never collide on SQLite ("database is locked"), issue 26.

On a file database in WAL mode (the default): the worker holds no transaction while
Telegram answers, so a web write made meanwhile goes through at once and the worker's
writes after the call do not fail; a web write held open while a worker round runs is
waited for (busy timeout, BEGIN IMMEDIATE), and no update is answered twice.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import select, text
from test_telegram import (
    CHANNEL,
    NEXT_YEAR,
    PERSON,
    approve_new,
    button_data,
    converse,
    grodna_id,
    worker_once,
)

from mapapp.channels.telegram.client import BotClient
from mapapp.channels.telegram.worker import run_once
from mapapp.domain import db
from mapapp.domain.models import TelegramChat, TelegramMessage


def database_file(app) -> str:  # noqa: ANN001
    return app.config["DATABASE_URL"].removeprefix("sqlite:///")


def web_write(path: str, timeout: float, hold: float = 0.0) -> float:
    """A write as a web worker makes it (its own connection, BEGIN IMMEDIATE), held open
    `hold` seconds; returns how long taking the write lock took."""
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        started = time.monotonic()
        connection.execute("BEGIN IMMEDIATE")
        waited = time.monotonic() - started
        connection.execute(
            "INSERT INTO geocode_cache (key, result, created_at) VALUES (?, '{}', ?)",
            (f"web-{time.monotonic_ns()}", "2026-01-01 00:00:00"),
        )
        time.sleep(hold)
        connection.execute("COMMIT")
        return waited
    finally:
        connection.close()


def in_thread(app, target) -> tuple[threading.Thread, list]:  # noqa: ANN001
    """Run `target(client)` in the app's context on another thread; errors are collected."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context(), BotClient.from_config() as client:
                target(client)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_the_web_writes_while_the_worker_waits_for_telegram(tg_app, fake) -> None:
    assert Path(database_file(tg_app)).exists()
    with tg_app.app_context():
        assert db.session().execute(text("PRAGMA journal_mode")).scalar() == "wal"
    first = approve_new(tg_app)
    fake.slow = 1.5  # each Bot API answer takes this long
    thread, errors = in_thread(tg_app, run_once)
    time.sleep(0.6)  # the worker is inside its sendMessage now
    waited = [web_write(database_file(tg_app), timeout=0.3) for _ in range(3)]
    second = approve_new(tg_app)  # a moderator's approval, through the app
    thread.join(timeout=30)
    assert errors == []  # no "database is locked" after the call
    assert max(waited) < 0.2  # the worker held no lock during the call
    fake.slow = 0
    worker_once(tg_app)
    with tg_app.app_context():
        session = db.session()
        assert session.get(TelegramMessage, (first, CHANNEL)) is not None
        assert session.get(TelegramMessage, (second, CHANNEL)) is not None
    texts = [m["text"] for m in fake.sent("sendMessage")]
    assert len(texts) == 2  # each rally posted once


def test_a_worker_round_waits_for_a_web_write_held_open(tg_app, fake) -> None:
    rally_id = approve_new(tg_app)  # the round reads it, posts it, then writes the post's id
    fake.say(PERSON, "/new")
    fake.slow_on = {"sendMessage": 1.0}
    thread, errors = in_thread(tg_app, run_once)
    time.sleep(0.4)  # the post is in flight; the web takes the lock and holds it past the call
    web_write(database_file(tg_app), timeout=0.3, hold=1.5)
    thread.join(timeout=30)
    assert errors == []  # the worker's write after the call waited for the web's
    fake.slow_on = {}
    worker_once(tg_app)
    worker_once(tg_app)
    assert len(fake.texts_to(PERSON)) == 1  # answered once, not again in a later round
    assert len(fake.sent("sendMessage")) == 2  # the post, once; the answer, once
    with tg_app.app_context():
        assert db.session().get(TelegramMessage, (rally_id, CHANNEL)) is not None


def test_the_web_writes_while_a_button_is_answered(tg_app, fake) -> None:
    converse(fake, tg_app, "/new", "Пікет супраць вайны")
    fake.press(PERSON, button_data(fake, PERSON, f"town:{grodna_id(tg_app)}"))
    fake.slow_on = {"answerCallbackQuery": 1.5, "sendMessage": 1.5}
    before = len(fake.texts_to(PERSON))
    thread, errors = in_thread(tg_app, run_once)
    time.sleep(0.7)  # the button's answer is in flight
    waited = [web_write(database_file(tg_app), timeout=0.3) for _ in range(3)]
    time.sleep(1.5)  # and now the reply
    waited += [web_write(database_file(tg_app), timeout=0.3) for _ in range(3)]
    thread.join(timeout=30)
    assert errors == [] and max(waited) < 0.2
    fake.slow_on = {}
    worker_once(tg_app)
    [asked] = fake.texts_to(PERSON)[before:]  # the next question, once; no apology
    assert "Place" in asked
    with tg_app.app_context():
        state = db.session().scalars(select(TelegramChat.state)).one()
    assert '"step": "place"' in state


def test_no_lock_is_held_while_the_place_is_geocoded(tg_app, fake, monkeypatch) -> None:
    """Nominatim may take seconds: the bot asks it (through `locate`) with no transaction
    open, so the web writes meanwhile."""
    from mapapp.channels.telegram import bot

    waited: list[float] = []
    original = bot.locate

    def slow_locate(form):  # noqa: ANN001, ANN202
        waited.append(web_write(database_file(tg_app), timeout=0.3))
        return original(form)

    monkeypatch.setattr(bot, "locate", slow_locate)
    replies = converse(
        fake,
        tg_app,
        "/new",
        "Пікет супраць вайны",
        f"press:town:{grodna_id(tg_app)}",
        "Савецкая плошча",
        f"01.06.{NEXT_YEAR} 18:30",
        "press:reveal:0",
        "press:skip",
        "press:confirm",
    )
    assert waited and max(waited) < 0.2  # the summary's and the confirmation's lookups
    assert "sent to moderators" in replies[-1]
