"""The Telegram channel and bot, against a local fake Bot API server (tests/fake_telegram.py)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import TG_BASE, TG_CHANNEL, add_rally, fresh_postgres, make_app
from fake_telegram import TOKEN, FakeTelegram
from flask import Flask
from sqlalchemy import select, text
from test_moderate import log_in

from mapapp.channels.telegram import client, outbox
from mapapp.channels.telegram.client import BotClient
from mapapp.domain import db, lifecycle
from mapapp.domain.models import (
    Rally,
    Status,
    TelegramChat,
    TelegramMessage,
    TelegramOutbox,
    utcnow,
)
from mapapp.publishing.words import reveal_sentence

CHANNEL = TG_CHANNEL
BASE = TG_BASE
NEXT_YEAR = datetime.now(UTC).year + 1


def worker_once(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["telegram-worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


# The moderator's action that leads to each state (mapapp.domain.lifecycle.TRANSITIONS).
ACTIONS = {
    Status.CANCELLED: "cancel",
    Status.REJECTED: "reject",
    Status.DANGER: "danger",
    Status.MOVED: "move",
}


def set_status(app: Flask, rally_id: int, status: Status) -> None:
    with app.app_context():
        session = db.session()
        rally = session.get(Rally, rally_id)
        if status is Status.APPROVED:
            lifecycle.approve(session, rally, "moderator:test")
        else:
            lifecycle.perform(session, rally, "moderator:test", ACTIONS[status], reason="test")


def approve_new(app: Flask, **fields) -> int:  # noqa: ANN003
    rally_id = add_rally(app, status=Status.PENDING.value, **fields)
    set_status(app, rally_id, Status.APPROVED)
    return rally_id


# -- the channel ------------------------------------------------------------------------


def test_an_approved_rally_is_posted_to_the_channel_with_its_title(tg_app, fake) -> None:
    rally_id = approve_new(tg_app, title="Салідарнасць з палітвязнямі", geonameid=625144)
    assert fake.sent() == []  # approving posts nothing itself: the outbox waits for the worker
    output = worker_once(tg_app)
    assert "Delivered 1 channel changes" in output
    [message] = fake.sent("sendMessage")
    assert message["chat_id"] == CHANNEL
    assert message["parse_mode"] == "HTML"
    assert "Салідарнасць з палітвязнямі" in message["text"]
    assert "Minsk" in message["text"]  # the town, in the channel's language
    assert f'href="{BASE}/rallies/{rally_id}?lang=en"' in message["text"]
    assert f'href="{BASE}/?lang=en"' in message["text"]
    assert f"June 1, {NEXT_YEAR}" in message["text"] and "7:00" in message["text"]  # Minsk
    with tg_app.app_context():
        stored = db.session().get(TelegramMessage, (rally_id, CHANNEL))
        assert stored.message_id == 101
    worker_once(tg_app)
    assert len(fake.sent("sendMessage")) == 1  # nothing posted twice


def test_a_pending_rally_is_never_posted(tg_app, fake) -> None:
    add_rally(tg_app, status=Status.PENDING.value)
    worker_once(tg_app)
    assert fake.sent("sendMessage") == []


def test_an_approved_edit_edits_the_message(tg_app, fake) -> None:
    rally_id = approve_new(tg_app)
    worker_once(tg_app)
    with tg_app.app_context():
        session = db.session()
        rally = session.get(Rally, rally_id)
        lifecycle.edit(session, rally, {"title": "Новая назва акцыі"}, "moderator:test")
    worker_once(tg_app)
    [edit] = fake.sent("editMessageText")
    assert int(edit["message_id"]) == 101 and edit["chat_id"] == CHANNEL
    assert "Новая назва акцыі" in edit["text"]
    assert len(fake.sent("sendMessage")) == 1


def test_cancelled_edits_the_message_and_replies_with_the_fixed_sentence(tg_app, fake) -> None:
    rally_id = approve_new(tg_app)
    worker_once(tg_app)
    set_status(tg_app, rally_id, Status.CANCELLED)
    worker_once(tg_app)
    [edit] = fake.sent("editMessageText")
    assert "This rally is cancelled." in edit["text"]
    replies = fake.sent("sendMessage")[1:]
    assert len(replies) == 1
    assert replies[0]["reply_parameters"]["message_id"] == 101
    assert "This rally is cancelled." in replies[0]["text"]
    worker_once(tg_app)
    assert len(fake.sent("sendMessage")) == 2  # the reply is sent once


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        ("danger", "Danger: police are at the place. Do not come."),
        ("moved", "The place has changed: check the new place before you go."),
    ],
)
def test_danger_and_moved_edit_the_message_and_reply(tg_app, fake, status, sentence) -> None:
    """The urgent statuses (set by publish's lifecycle): edit, then the fixed urgent reply."""
    rally_id = approve_new(tg_app)
    worker_once(tg_app)
    set_status(tg_app, rally_id, Status(status))
    worker_once(tg_app)
    [edit] = fake.sent("editMessageText")
    assert sentence in edit["text"]
    reply = fake.sent("sendMessage")[-1]
    assert reply["reply_parameters"]["message_id"] == 101 and sentence in reply["text"]


def test_a_rally_taken_down_is_deleted_from_the_channel(tg_app, fake) -> None:
    rally_id = approve_new(tg_app)
    worker_once(tg_app)
    set_status(tg_app, rally_id, Status.REJECTED)
    worker_once(tg_app)
    [deleted] = fake.sent("deleteMessage")
    assert int(deleted["message_id"]) == 101


@pytest.mark.parametrize("failure", ["429", "500", "drop"])
def test_telegram_failing_then_answering_posts_once(tg_app, fake, failure) -> None:
    rally_id = approve_new(tg_app)
    fake.fail_next = [failure]
    with tg_app.app_context():
        session = db.session()
        with BotClient(TOKEN, fake.url) as client:
            assert outbox.deliver_due(session, client) == 0
            row = session.scalars(select(TelegramOutbox)).one()
            assert row.delivered_at is None and row.attempts == 1
            assert row.error in ("RetryAfter", "NetworkError", "TimedOut")
            assert row.next_at > utcnow()  # backoff (429: at least retry_after)
            assert outbox.deliver_due(session, client) == 0  # not yet due: no call
            calls = len(fake.calls)
            later = utcnow() + timedelta(minutes=2)
            assert outbox.deliver_due(session, client, now=later) == 1
            assert outbox.deliver_due(session, client, now=later) == 0
        assert len(fake.calls) == calls + 1
        assert db.session().get(TelegramMessage, (rally_id, CHANNEL)).message_id == 101
    assert len(fake.sent("sendMessage")) == 1


def test_a_rallys_messages_keep_their_order_while_telegram_fails(tg_app, fake) -> None:
    rally_id = approve_new(tg_app)
    set_status(tg_app, rally_id, Status.CANCELLED)
    fake.fail_next = ["500"]
    worker_once(tg_app)
    assert fake.sent("sendMessage") == []
    with tg_app.app_context():
        session = db.session()
        with BotClient(TOKEN, fake.url) as client:
            outbox.deliver_due(session, client, now=utcnow() + timedelta(minutes=5))
    sent = [(name, params) for name, params in fake.done if name != "getUpdates"]
    assert [name for name, _params in sent] == ["sendMessage", "sendMessage"]
    assert "reply_parameters" not in sent[0][1]  # the post first, then the cancelled reply
    assert sent[1][1]["reply_parameters"]["message_id"] == 101


def test_user_text_never_becomes_markup(tg_app, fake) -> None:
    payloads = [
        line
        for line in Path("tests/xss_payloads.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for payload in payloads[:40]:
        approve_new(tg_app, title=("Акцыя " + payload)[:200], place=payload[:200])
    worker_once(tg_app)
    messages = fake.sent("sendMessage")
    assert len(messages) == min(40, len(payloads))
    for message in messages:
        tags = Tags()
        tags.feed(message["text"])
        assert tags.found == ["b", "a", "a"], message["text"]  # the title, the two links


class Tags(HTMLParser):
    """The start tags of a Telegram HTML text, as Telegram reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.found.append(tag)


def test_the_worker_needs_a_token(app) -> None:
    result = app.test_cli_runner().invoke(args=["telegram-worker", "--once"])
    assert result.exit_code != 0
    assert "MAPAPP_TELEGRAM_BOT_TOKEN" in result.output


def test_without_telegram_configured_the_outbox_stays_empty(app) -> None:
    rally_id = add_rally(app, status=Status.PENDING.value)
    set_status(app, rally_id, Status.APPROVED)
    with app.app_context():
        assert db.session().scalars(select(TelegramOutbox)).all() == []


def test_channel_settings_are_checked_at_start(sqlite_url) -> None:
    with pytest.raises(ValueError, match="TELEGRAM_CHANNEL"):
        make_app(sqlite_url, TELEGRAM_CHANNEL="rallies")
    assert client.channels("BY-HR=@hrodna *=@all") == {"BY-HR": "@hrodna", "*": "@all"}


def test_regional_channels(sqlite_url, fake) -> None:
    app = make_app(
        sqlite_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_CHANNEL="BY-HR=@hrodna BY-BR=@brest",
        TELEGRAM_API_URL=fake.url,
    )
    approve_new(app, town="Гродна", region="BY-HR", lat=53.68, lon=23.83)
    approve_new(app)  # Minsk: no channel for it
    worker_once(app)
    [message] = fake.sent("sendMessage")
    assert message["chat_id"] == "@hrodna"
    assert "Гродна" in message["text"]  # TELEGRAM_LANGUAGE defaults to be
    app.extensions["mapapp.db"]["engine"].dispose()


# -- the bot ----------------------------------------------------------------------------

PERSON = 424242  # a private chat's id


def grodna_id(app: Flask) -> int:
    from mapapp.domain.geocoding import gazetteer

    with app.app_context():
        return gazetteer().by_name("Гродна").geonameid


def button_data(fake: FakeTelegram, chat_id: int, data: str) -> str:
    """The callback data of the newest button sent to `chat_id` that stands for `data` (the
    bot marks each question's buttons); `data` itself when no button does (a stale press)."""
    for name, params in reversed(fake.done):
        if name != "sendMessage" or str(params.get("chat_id")) != str(chat_id):
            continue
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("callback_data", "").partition("|")[2] == data:
                    return button["callback_data"]
    return data


def converse(fake: FakeTelegram, app: Flask, *steps: str, lang: str = "en") -> list[str]:
    """Play the person's messages (or "press:DATA": the button that stands for DATA in the
    bot's newest keyboard); run the worker; the bot's replies."""
    before = len(fake.texts_to(PERSON))
    for step in steps:
        if step.startswith("press:"):
            worker_once(app)  # the keyboard to press comes from the answers so far
            fake.press(PERSON, button_data(fake, PERSON, step[len("press:") :]), lang)
        else:
            fake.say(PERSON, step, lang)
    worker_once(app)
    return fake.texts_to(PERSON)[before:]


def test_a_whole_conversation_stores_a_pending_rally_with_the_manage_link(
    tg_app, fake, monkeypatch
) -> None:
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
    )
    assert "Title" in replies[0]
    assert "Town" in replies[1]
    summary = replies[-1]
    assert "Пікет супраць вайны" in summary and "Hrodna" in summary
    [location] = fake.sent("sendLocation")
    assert abs(float(location["latitude"]) - 53.68) < 0.1
    keyboard = fake.sent("sendMessage")[-1]["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0]["callback_data"].endswith("|confirm")  # marked as this question's

    [done] = converse(fake, tg_app, "press:confirm")
    assert "sent to moderators" in done
    assert f"{BASE}/manage/" in done
    with tg_app.app_context():
        rally = db.session().scalars(select(Rally)).one()
        assert rally.status == Status.PENDING.value
        assert rally.title == "Пікет супраць вайны" and rally.place == "Савецкая плошча"
        assert rally.region == "BY-HR" and rally.contact is None
        assert rally.starts_at == datetime(NEXT_YEAR, 6, 1, 15, 30, tzinfo=UTC)
        token = done.split("/manage/")[1].split()[0].split("?")[0]
        assert lifecycle.by_token(db.session(), token).id == rally.id
        # The conversation is over: nothing of it is kept.
        assert db.session().scalars(select(TelegramChat.state)).all() == [None]
    # In the moderators' queue, like a rally from the web form.
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", "correct horse battery")
    assert tg_app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    client = tg_app.test_client()
    assert log_in(client).status_code == 303
    assert "Пікет супраць вайны" in client.get("/moderate").get_data(as_text=True)
    assert {p["chat_id"] for p in fake.sent("sendMessage")} == {str(PERSON)}  # not the channel


def test_bad_answers_get_the_forms_messages_in_the_chats_language(tg_app, fake) -> None:
    replies = converse(fake, tg_app, "/new", "abc", "Пікет супраць вайны", "Атлантыда", lang="ru")
    assert "Название" in replies[0]  # the form's label, in Russian from Telegram's language_code
    assert replies[1] == "Число символов: от 5 до 120 (сейчас 3)."  # the form's own message
    assert replies[3] == "Этого города нет в нашем списке: проверьте написание."
    replies = converse(
        fake,
        tg_app,
        f"press:town:{grodna_id(tg_app)}",
        "press:skip",
        "01.01.2001 10:00",
        "zzz",
        lang="ru",
    )
    assert "Дата и время должны быть в будущем." in replies[-2]
    assert replies[-1] == "Дата не распознана: напишите её как 25.12.2026.\nУкажите время."
    with tg_app.app_context():
        assert db.session().scalars(select(Rally)).all() == []


@pytest.mark.parametrize(
    ("lang", "reveal", "warning"),
    [
        # what was found, and that anything saying where is public (not only those words)
        (
            "ru",
            "2",
            "Название или описание могут выдать скрытое место. Название все видят"
            " сразу, а место — только в выбранное вами время. Мы заметили: «у ЦУМа». Проверка"
            " знает лишь некоторые способы",
        ),
        (
            "be",
            "2",
            "Назва або апісанне могуць выдаць схаванае месца. Назву ўсе бачаць адразу,"
            " а месца — толькі ў абраны вамі час. Мы заўважылі: «у ЦУМа». Праверка ведае толькі"
            " некаторыя спосабы",
        ),
        (
            "en",
            "2",
            "The title or description may give the hidden place away. The title is"
            " public at once, the place only at the time you chose. We noticed: «у ЦУМа». The"
            " check knows only some ways",
        ),
        ("ru", "0", None),  # the place is public at once: nothing to give away
    ],
)
def test_the_summary_warns_when_the_title_may_give_a_hidden_place_away(
    tg_app, fake, lang, reveal, warning
) -> None:
    replies = converse(
        fake,
        tg_app,
        "/new",
        "Пикет у ЦУМа",
        f"press:town:{grodna_id(tg_app)}",
        "press:skip",
        f"01.06.{NEXT_YEAR} 18:30",
        f"press:reveal:{reveal}",
        "press:skip",
        lang=lang,
    )
    summary = replies[-1]
    if warning:
        assert warning in summary, summary
    else:
        assert "ЦУМа»" not in summary, summary


def test_nothing_of_the_chat_is_stored_with_the_rally(tg_app, fake) -> None:
    converse(
        fake,
        tg_app,
        "/new",
        "Пікет супраць вайны",
        f"press:town:{grodna_id(tg_app)}",
        "press:skip",
        f"01.06.{NEXT_YEAR} 18:30",
        "press:reveal:2",
        "Signal +375 29 000",
        "press:confirm",
    )
    with tg_app.app_context():
        session = db.session()
        assert session.scalars(select(Rally)).one().contact == "Signal +375 29 000"
        # Neither the chat id nor the user name is anywhere in the database.
        for table in ("rally", "audit_log", "telegram_chat", "telegram_outbox", "geocode_cache"):
            for row in session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
                dump = json.dumps([str(value) for value in row])
                assert str(PERSON) not in dump and "ales_organizer" not in dump, table


def test_a_chats_answers_are_sealed_while_it_lasts(tg_app, fake) -> None:
    # The conversation waits at its summary: the contact and the place sit in the chat's row.
    converse(
        fake,
        tg_app,
        "/new",
        "Пікет супраць вайны",
        f"press:town:{grodna_id(tg_app)}",
        "Двор на Калініна",
        f"01.06.{NEXT_YEAR} 18:30",
        "press:reveal:2",
        "Signal +375 29 111",
    )
    with tg_app.app_context():
        session = db.session()
        [raw] = session.execute(text("SELECT state FROM telegram_chat")).scalars()
        assert raw and "+375 29 111" not in raw and "Калініна" not in raw
        assert "+375 29 111" in session.scalars(select(TelegramChat.state)).one()  # readable
    [done] = converse(fake, tg_app, "press:confirm")
    assert "sent to moderators" in done


def test_without_a_contact_key_the_bot_asks_for_no_contact(sqlite_url, fake) -> None:
    app = make_app(
        sqlite_url,
        CONTACT_KEY=None,
        TESTING=False,
        SECRET_KEY="k" * 32,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.url,
        TELEGRAM_LANGUAGE="en",
        BASE_URL=BASE,
    )
    replies = converse(
        fake,
        app,
        "/new",
        "Пікет супраць вайны",
        f"press:town:{grodna_id(app)}",
        "press:skip",
        f"01.06.{NEXT_YEAR} 18:30",
        "press:reveal:0",
    )
    summary = replies[-1]
    assert "Check the rally" in summary and "Contact" not in summary  # straight to the summary
    [done] = converse(fake, app, "press:confirm")
    assert "sent to moderators" in done
    with app.app_context():
        assert db.session().scalars(select(Rally)).one().contact is None
    app.extensions["mapapp.db"]["engine"].dispose()


def test_cancel_stops_and_language_can_be_changed(tg_app, fake) -> None:
    replies = converse(fake, tg_app, "/new", "/cancel", "/language", "press:lang:be", "/new")
    assert "Nothing was sent" in replies[1]
    assert replies[3] == "Беларуская"
    assert "Назва" in replies[4]


def test_a_chat_is_rate_limited_and_forgotten_after_an_hour(tg_app, fake) -> None:
    from mapapp.channels.telegram import bot

    converse(fake, tg_app, *["hello"] * (bot.UPDATES_PER_HOUR + 5))
    replies = fake.texts_to(PERSON)
    assert len(replies) == bot.UPDATES_PER_HOUR + 1  # answers, then one "too many"
    assert "Too many" in replies[-1]
    with tg_app.app_context():
        session = db.session()
        chat = session.scalars(select(TelegramChat)).one()
        chat.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    converse(fake, tg_app)
    with tg_app.app_context():
        assert db.session().scalars(select(TelegramChat)).all() == []


def test_group_chats_are_ignored(tg_app, fake) -> None:
    fake.say(PERSON, "/new")
    fake.updates[-1]["message"]["chat"]["type"] = "group"
    worker_once(tg_app)
    assert fake.sent("sendMessage") == []


def test_an_unrevealed_place_never_appears_and_is_added_once_revealed(tg_app, fake) -> None:
    """Staged disclosure: the projection hides the place until its time; the worker edits."""
    reveal_at = datetime(NEXT_YEAR, 6, 1, 14, 0, tzinfo=UTC)
    rally_id = approve_new(
        tg_app, place="Сакрэтны двор на Кастрычніцкай", geonameid=625144, reveal_at=reveal_at
    )
    worker_once(tg_app)
    worker_once(tg_app)
    [posted] = fake.sent("sendMessage")
    assert "Сакрэтны" not in posted["text"] and "Кастрычніцкай" not in posted["text"]
    assert "The exact place will be announced at" in posted["text"]
    with tg_app.test_request_context():  # the same sentence as every output (words.py)
        assert escape(reveal_sentence(reveal_at, "en")) in posted["text"]
    assert "5:00" in posted["text"]  # 14:00 UTC is 17:00 in Minsk
    assert fake.sent("editMessageText") == []
    with tg_app.app_context():  # the reveal time passes: no change is made, time goes by
        session = db.session()
        for table in ("rally", "published_rally"):
            session.execute(
                text(f"UPDATE {table} SET reveal_at = :t WHERE id = :id"),  # noqa: S608
                {"t": "2000-01-01 00:00:00", "id": rally_id},
            )
        session.commit()
    output = worker_once(tg_app)
    assert "1 places revealed" in output
    [edit] = fake.sent("editMessageText")
    assert "Сакрэтны двор на Кастрычніцкай" in edit["text"]
    worker_once(tg_app)
    assert len(fake.sent("editMessageText")) == 1
    with tg_app.app_context():
        assert db.session().get(TelegramMessage, (rally_id, CHANNEL)).revealed


@pytest.mark.postgres
def test_channel_and_bot_on_postgresql(fake, monkeypatch) -> None:
    app = make_app(
        fresh_postgres(),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_CHANNEL=CHANNEL,
        TELEGRAM_API_URL=fake.url,
        BASE_URL=BASE,
    )
    try:
        rally_id = approve_new(app)
        converse(fake, app, "/new", "Пікет супраць вайны", f"press:town:{grodna_id(app)}")
        assert len(fake.sent("sendMessage")) == 1 + 3  # the channel post, three questions
        set_status(app, rally_id, Status.CANCELLED)
        worker_once(app)
        assert len(fake.sent("editMessageText")) == 1
        with app.app_context():
            assert db.session().get(TelegramMessage, (rally_id, CHANNEL)).message_id == 101
            assert db.session().scalars(select(TelegramChat)).one().state is not None
    finally:
        app.extensions["mapapp.db"]["engine"].dispose()


def test_nothing_but_error_types_is_logged(tg_app, fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    approve_new(tg_app, title="Сакрэтная назва для логаў")
    fake.fail_next = ["500"]
    worker_once(tg_app)
    converse(fake, tg_app, "/new", "Яшчэ адна сакрэтная назва")
    worker_once(tg_app)
    assert "NetworkError" in caplog.text
    for secret in (TOKEN, "сакрэтная", "Сакрэтная", str(PERSON), fake.url):
        assert secret not in caplog.text
