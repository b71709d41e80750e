"""Telegram posts follow every change, and the bot never loses what it promised (issue 23).

Against the fake Bot API (tests/fake_telegram.py) answering with Telegram's documented
errors: "message can't be deleted" (a post older than 48 hours), "message can't be edited",
"message to edit not found", 429 with retry_after, 5xx, dropped connections.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import make_app
from fake_telegram import TOKEN, FakeTelegram
from flask import Flask
from sqlalchemy import select, text
from test_telegram import (
    BASE,
    CHANNEL,
    NEXT_YEAR,
    PERSON,
    approve_new,
    button_data,
    converse,
    grodna_id,
    set_status,
    worker_once,
)

from mapapp.channels.telegram import bot
from mapapp.channels.telegram.client import BotClient
from mapapp.domain import db, lifecycle
from mapapp.domain.models import (
    Rally,
    Status,
    TelegramChat,
    TelegramMessage,
    TelegramReply,
    utcnow,
)
from mapapp.publishing.signing import load_key, new_secret

# -- the channel: a post that cannot be deleted or edited -------------------------------


def posted(app: Flask, fake: FakeTelegram, **fields) -> int:  # noqa: ANN003
    rally_id = approve_new(app, **fields)
    worker_once(app)
    assert [int(m["message_id"]) for m in fake.sent("editMessageText")] == []
    return rally_id


def test_a_post_too_old_to_delete_is_edited_to_say_the_rally_was_removed(tg_app, fake) -> None:
    rally_id = posted(tg_app, fake)
    set_status(tg_app, rally_id, Status.REJECTED)
    fake.fail_on["deleteMessage"] = ["400-cant-delete"]
    worker_once(tg_app)
    [edit] = fake.sent("editMessageText")
    assert int(edit["message_id"]) == 101
    assert "This rally was removed from the map." in edit["text"]
    assert f'href="{BASE}/?lang=en"' in edit["text"]
    with tg_app.app_context():
        assert db.session().get(TelegramMessage, (rally_id, CHANNEL)).removed


def test_a_post_that_can_be_neither_deleted_nor_edited_gets_a_reply(tg_app, fake) -> None:
    rally_id = posted(tg_app, fake)
    set_status(tg_app, rally_id, Status.REJECTED)
    fake.fail_on["deleteMessage"] = ["400-cant-delete"]
    fake.fail_on["editMessageText"] = ["400-cant-edit"]
    worker_once(tg_app)
    reply = fake.sent("sendMessage")[-1]
    assert reply["reply_parameters"]["message_id"] == 101
    assert "This rally was removed from the map." in reply["text"]
    worker_once(tg_app)
    assert len(fake.sent("sendMessage")) == 2  # said once


def test_a_post_deleted_by_hand_counts_as_removed(tg_app, fake) -> None:
    rally_id = posted(tg_app, fake)
    set_status(tg_app, rally_id, Status.REJECTED)
    fake.fail_on["deleteMessage"] = ["400-delete-gone"]
    worker_once(tg_app)
    assert fake.sent("editMessageText") == [] and len(fake.sent("sendMessage")) == 1


@pytest.mark.parametrize("change", ["title", "cancelled"])
def test_a_post_that_cannot_be_edited_gets_the_change_as_a_reply(tg_app, fake, change) -> None:
    rally_id = posted(tg_app, fake)
    with tg_app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        if change == "title":
            lifecycle.edit(session, rally, {"title": "Новая назва акцыі"}, "moderator:test")
        else:
            lifecycle.perform(session, rally, "moderator:test", "cancel", reason="test")
    fake.fail_on["editMessageText"] = ["400-cant-edit"]
    worker_once(tg_app)
    replies = fake.sent("sendMessage")[1:]
    assert replies[0]["reply_parameters"]["message_id"] == 101  # to the old post
    assert all("reply_parameters" in r for r in replies)  # no second post standing alone
    assert "The post above is out of date" in replies[0]["text"]
    assert ("Новая назва акцыі" if change == "title" else "cancelled") in replies[0]["text"]
    # From then on the reply is the rally's post: the next change edits it.
    with tg_app.app_context():
        session = db.session(write=True)
        lifecycle.edit(
            session, session.get(Rally, rally_id), {"title": "Трэцяя назва"}, "moderator:test"
        )
    worker_once(tg_app)
    [edit] = fake.sent("editMessageText")
    assert int(edit["message_id"]) == 102 and "Трэцяя назва" in edit["text"]


def test_a_post_deleted_by_hand_is_posted_again_on_a_change(tg_app, fake) -> None:
    rally_id = posted(tg_app, fake)
    with tg_app.app_context():
        session = db.session(write=True)
        lifecycle.edit(
            session, session.get(Rally, rally_id), {"title": "Новая назва акцыі"}, "moderator:test"
        )
    fake.fail_on["editMessageText"] = ["400-gone"]
    worker_once(tg_app)
    again = fake.sent("sendMessage")[-1]
    assert "reply_parameters" not in again and "Новая назва акцыі" in again["text"]


# -- the channel: a rally that changes region --------------------------------------------

BREST = {"town": "Брэст", "region": "BY-BR", "lat": 52.0976, "lon": 23.7341}


@pytest.fixture
def regional(sqlite_url, fake) -> Flask:  # noqa: ANN001
    app = make_app(
        sqlite_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_CHANNEL="BY-HR=@hrodna BY-BR=@brest",
        TELEGRAM_API_URL=fake.url,
        TELEGRAM_LANGUAGE="en",
        BASE_URL=BASE,
    )
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def move_to_brest(app: Flask, rally_id: int) -> None:
    from mapapp.domain.geocoding import gazetteer

    with app.app_context():
        session = db.session(write=True)
        fields = {**BREST, "geonameid": gazetteer().by_name("Брэст").geonameid}
        lifecycle.edit(session, session.get(Rally, rally_id), fields, "moderator:test")


@pytest.mark.parametrize("old_post", ["editable", "cant-edit"])
def test_a_rally_moved_to_another_region_is_marked_in_the_old_channel(
    regional, fake, old_post
) -> None:
    rally_id = approve_new(regional, town="Гродна", region="BY-HR", lat=53.68, lon=23.83)
    worker_once(regional)
    [first] = fake.sent("sendMessage")
    assert first["chat_id"] == "@hrodna"
    move_to_brest(regional, rally_id)
    if old_post == "cant-edit":
        fake.fail_on["editMessageText"] = ["400-cant-edit"]
    worker_once(regional)
    said = "This rally moved to another region&#x27;s channel."  # HTML-escaped
    link = f'href="{BASE}/rallies/{rally_id}?lang=en"'
    if old_post == "editable":
        [edit] = fake.sent("editMessageText")
        assert edit["chat_id"] == "@hrodna" and int(edit["message_id"]) == 101
        assert said in edit["text"] and link in edit["text"]
    else:
        [reply] = [m for m in fake.sent("sendMessage") if m["chat_id"] == "@hrodna"][1:]
        assert reply["reply_parameters"]["message_id"] == 101 and said in reply["text"]
    assert fake.sent("deleteMessage") == []  # its readers learn where it went
    [new] = [m for m in fake.sent("sendMessage") if m["chat_id"] == "@brest"][:1]
    assert "reply_parameters" not in new and "Brest" in new["text"]
    with regional.app_context():
        session = db.session()
        assert session.get(TelegramMessage, (rally_id, "@hrodna")).removed
        assert not session.get(TelegramMessage, (rally_id, "@brest")).removed
    count = len(fake.done)
    worker_once(regional)
    assert [m for m, _p in fake.done[count:]] == ["getUpdates"]  # nothing twice


# -- the channel: a new start time -------------------------------------------------------


@pytest.mark.parametrize("hours", [2, -2])
def test_a_time_change_gets_a_reply_and_an_earlier_start_is_urgent(tg_app, fake, hours) -> None:
    rally_id = posted(tg_app, fake)
    with tg_app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        starts_at = rally.starts_at + timedelta(hours=hours)
        lifecycle.edit(session, rally, {"starts_at": starts_at}, "moderator:test")
    worker_once(tg_app)
    [edit] = fake.sent("editMessageText")
    assert int(edit["message_id"]) == 101
    [reply] = fake.sent("sendMessage")[1:]
    assert reply["reply_parameters"]["message_id"] == 101
    assert "The time has changed" in reply["text"]
    if hours < 0:
        assert reply["text"].startswith("⚠️ <b>Earlier start!")
    else:
        assert "Earlier" not in reply["text"] and "<b>" not in reply["text"]
    worker_once(tg_app)
    assert len(fake.sent("sendMessage")) == 2  # the reply is sent once
    with tg_app.app_context():
        message = db.session().get(TelegramMessage, (rally_id, CHANNEL))
        assert message.starts_at == starts_at


# -- the site's key in the channel (issue 25) ---------------------------------------------


def test_the_signing_keys_fingerprint_is_posted_pinned_and_posted_again_when_it_changes(
    sqlite_url, fake
) -> None:
    settings = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHANNEL": CHANNEL,
        "TELEGRAM_API_URL": fake.url,
        "TELEGRAM_LANGUAGE": "en",
        "BASE_URL": BASE,
    }
    first, second = new_secret(), new_secret()
    app = make_app(sqlite_url, SIGNING_KEY=first, **settings)
    worker_once(app)
    [post] = fake.sent("sendMessage")
    fingerprint = load_key(first).fingerprint
    assert post["chat_id"] == CHANNEL and f"<code>{fingerprint}</code>" in post["text"]
    assert fingerprint in app.test_client().get("/about?lang=en").get_data(as_text=True)
    assert f'href="{BASE}/verify"' in post["text"]
    [pin] = fake.sent("pinChatMessage")
    assert int(pin["message_id"]) == 101
    worker_once(app)
    assert len(fake.sent("sendMessage")) == 1  # once per key
    app.extensions["mapapp.db"]["engine"].dispose()
    app = make_app(sqlite_url, SIGNING_KEY=second, **settings)
    worker_once(app)
    changed = fake.sent("sendMessage")[-1]
    assert f"<code>{load_key(second).fingerprint}</code>" in changed["text"]
    assert "has changed" in changed["text"] and fingerprint in changed["text"]
    assert len(fake.sent("pinChatMessage")) == 2
    app.extensions["mapapp.db"]["engine"].dispose()


def test_a_channel_that_refuses_the_key_post_is_not_asked_every_round(sqlite_url, fake) -> None:
    from mapapp.channels.telegram.worker import run_once

    app = make_app(
        sqlite_url,
        SIGNING_KEY=new_secret(),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_CHANNEL=CHANNEL,
        TELEGRAM_API_URL=fake.url,
    )
    fake.fail_on["sendMessage"] = ["403-blocked"]
    with app.app_context(), BotClient.from_config() as client:
        for _ in range(3):
            run_once(client)
    assert [m for m, _p in fake.calls].count("sendMessage") == 1
    app.extensions["mapapp.db"]["engine"].dispose()


def test_without_a_signing_key_nothing_is_posted(tg_app, fake) -> None:
    worker_once(tg_app)
    assert fake.sent("sendMessage") == []


def test_a_channel_where_the_bot_cannot_pin_still_gets_the_post_once(sqlite_url, fake) -> None:
    app = make_app(
        sqlite_url,
        SIGNING_KEY=new_secret(),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_CHANNEL=CHANNEL,
        TELEGRAM_API_URL=fake.url,
    )
    fake.fail_on["pinChatMessage"] = ["403-blocked"]
    worker_once(app)
    worker_once(app)
    assert len(fake.sent("sendMessage")) == 1
    app.extensions["mapapp.db"]["engine"].dispose()


# -- the bot: the manage link is never lost ----------------------------------------------


def to_summary(fake: FakeTelegram, app: Flask) -> None:
    converse(
        fake,
        app,
        "/new",
        "Пікет супраць вайны",
        f"press:town:{grodna_id(app)}",
        "Савецкая плошча",
        f"01.06.{NEXT_YEAR} 18:30",
        "press:reveal:0",
        "press:skip",
    )


@pytest.mark.parametrize("failure", ["429", "502", "drop"])
def test_the_manage_link_survives_telegram_failing(tg_app, fake, failure) -> None:
    to_summary(fake, tg_app)
    fake.fail_on["sendMessage"] = [failure]
    assert converse(fake, tg_app, "press:confirm") == []  # Telegram failed the reply
    with tg_app.app_context():
        session = db.session()
        assert session.scalars(select(Rally)).one().status == Status.PENDING.value
        [waiting] = session.scalars(select(TelegramReply)).all()
        assert waiting.attempts == 1 and waiting.next_at > utcnow()
        raw = session.execute(text("SELECT payload FROM telegram_reply")).scalar()
        assert "/manage/" not in raw and str(PERSON) not in raw  # sealed
    worker_once(tg_app)  # not due yet (429: not before retry_after)
    assert "/manage/" not in "".join(fake.texts_to(PERSON))
    with tg_app.app_context(), BotClient.from_config() as client:
        later = utcnow() + timedelta(minutes=2)
        assert bot.deliver_replies(db.session(write=True), client, now=later) == 1
        assert db.session().scalars(select(TelegramReply)).all() == []
    done = fake.texts_to(PERSON)[-1]
    assert "sent to moderators" in done and f"{BASE}/manage/" in done
    with tg_app.app_context():
        token = done.split("/manage/")[1].split()[0].split("?")[0]
        assert lifecycle.by_token(db.session(), token) is not None
    assert sum("/manage/" in t for t in fake.texts_to(PERSON)) == 1


def test_a_waiting_reply_is_sealed_without_a_contact_key_too(sqlite_url, fake) -> None:
    app = make_app(
        sqlite_url,
        CONTACT_KEY=None,
        TESTING=False,
        SECRET_KEY="k" * 32,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.url,
        TELEGRAM_LANGUAGE="en",
    )
    fake.fail_on["sendMessage"] = ["502"]
    fake.say(PERSON, "/new")
    worker_once(app)
    with app.app_context():
        raw = db.session().execute(text("SELECT payload FROM telegram_reply")).scalar()
    assert raw and str(PERSON) not in raw and "Title" not in raw
    with app.app_context(), BotClient.from_config() as client:
        later = utcnow() + timedelta(minutes=2)
        assert bot.deliver_replies(db.session(write=True), client, now=later) == 1
    assert "Title" in fake.texts_to(PERSON)[-1]
    app.extensions["mapapp.db"]["engine"].dispose()


def test_a_backup_holds_no_waiting_reply(tg_app, fake, tmp_path) -> None:
    import sqlite3

    fake.fail_on["sendMessage"] = ["502"]
    fake.say(PERSON, "/new")
    worker_once(tg_app)
    with tg_app.app_context():
        assert db.session().scalars(select(TelegramReply)).all()  # waiting
    copy = tmp_path / "copy.sqlite3"
    result = tg_app.test_cli_runner().invoke(args=["backup", str(copy)])
    assert result.exit_code == 0, result.output
    connection = sqlite3.connect(copy)
    try:
        assert connection.execute("SELECT count(*) FROM telegram_reply").fetchone() == (0,)
    finally:
        connection.close()


def test_a_person_who_blocked_the_bot_does_not_hold_the_others(tg_app, fake) -> None:
    fake.fail_on["sendMessage"] = ["403-blocked"]
    fake.say(PERSON, "/new")
    fake.say(515151, "/new")
    worker_once(tg_app)
    assert fake.texts_to(515151)  # the other chat is answered
    with tg_app.app_context(), BotClient.from_config() as client:
        session = db.session(write=True)
        for minutes in range(1, 8):
            bot.deliver_replies(session, client, now=utcnow() + timedelta(hours=minutes))
        assert session.scalars(select(TelegramReply)).all() == []  # dropped after its tries


# -- the bot: stale buttons ---------------------------------------------------------------


def chat_state(app: Flask) -> dict:
    import json

    with app.app_context():
        raw = db.session().scalars(select(TelegramChat.state)).one()
    return json.loads(raw) if raw else {}


def test_a_button_of_an_earlier_message_is_refused_and_the_question_asked_again(
    tg_app, fake
) -> None:
    town = f"town:{grodna_id(tg_app)}"
    converse(fake, tg_app, "/new", "Пікет супраць вайны")
    old = button_data(fake, PERSON, town)  # the town question's button
    replies = converse(fake, tg_app, "/new")  # start again: the title is asked
    assert "Title" in replies[-1]
    fake.press(PERSON, old)
    worker_once(tg_app)
    [refused] = [p for p in fake.sent("answerCallbackQuery") if p.get("text")]
    assert "earlier message" in refused["text"]
    assert "Title" in fake.texts_to(PERSON)[-1]  # the current question, again
    state = chat_state(tg_app)
    assert state["step"] == "title" and "title" not in state  # not "Title: town:627904"
    # At the place step, the town keyboard is stale too.
    converse(fake, tg_app, "Пікет супраць вайны", f"press:{town}")
    assert chat_state(tg_app)["step"] == "place"
    fake.press(PERSON, button_data(fake, PERSON, town))
    worker_once(tg_app)
    assert chat_state(tg_app)["step"] == "place" and "place" not in chat_state(tg_app)
    assert "Place" in fake.texts_to(PERSON)[-1]
    # Data no button of the bot ever carried (forged, or from before marks): refused.
    fake.press(PERSON, "skip")
    worker_once(tg_app)
    assert "place" not in chat_state(tg_app)


# -- the bot: what is not text ------------------------------------------------------------

FILE = {"file_id": "AgAD", "file_unique_id": "AQAD"}
NOT_TEXT = {
    "photo": {"photo": [{**FILE, "width": 90, "height": 90}]},
    "sticker": {
        "sticker": {
            **FILE,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    },  # fmt: skip
    "location": {"location": {"latitude": 53.9, "longitude": 27.56}},
    "voice": {"voice": {**FILE, "duration": 3}},
    "document": {"document": FILE},
    "contact": {"contact": {"phone_number": "+375290000000", "first_name": "A"}},
    # As Bot API 9.5 sent it: python-telegram-bot wants a field of 9.6 and cannot read it.
    "poll": {
        "poll": {
            "id": "1",
            "question": "?",
            "options": [{"text": "a", "voter_count": 0}],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
        }
    },  # fmt: skip
}


def send_raw(fake: FakeTelegram, field: str, content: dict, chat_type: str = "private") -> None:
    fake.next_update_id += 1
    chat = {"id": PERSON, "type": chat_type}
    if chat_type == "channel":
        chat = {"id": -1001, "type": "channel", "title": "Rallies"}
    message = {"message_id": fake.next_update_id, "date": 0, "chat": chat, **content}
    if chat_type == "private":
        message["from"] = {"id": PERSON, "is_bot": False, "first_name": "A", "language_code": "ru"}
    fake.updates.append({"update_id": fake.next_update_id, field: message})


@pytest.mark.parametrize("kind", sorted(NOT_TEXT))
def test_what_is_not_text_is_answered_and_the_question_asked_again(tg_app, fake, kind) -> None:
    converse(fake, tg_app, "/new", lang="ru")
    send_raw(fake, "message", NOT_TEXT[kind])
    before = len(fake.texts_to(PERSON))
    worker_once(tg_app)
    said, again = fake.texts_to(PERSON)[before:]
    assert "только текст" in said  # in the chat's language
    assert "Название" in again
    assert chat_state(tg_app)["step"] == "title"


def test_an_edited_message_is_answered(tg_app, fake) -> None:
    converse(fake, tg_app, "/new")
    send_raw(fake, "edited_message", {"text": "Пікет супраць вайны", "edit_date": 1})
    before = len(fake.texts_to(PERSON))
    worker_once(tg_app)
    said, again = fake.texts_to(PERSON)[before:]
    assert "новым сообщением" in said and "Название" in again
    assert "title" not in chat_state(tg_app)


def test_a_channel_post_is_never_answered(tg_app, fake) -> None:
    send_raw(fake, "channel_post", {"text": "/new"}, chat_type="channel")
    send_raw(fake, "channel_post", {"photo": NOT_TEXT["photo"]["photo"]}, chat_type="channel")
    worker_once(tg_app)
    assert fake.sent("sendMessage") == []


def test_outside_a_conversation_a_photo_gets_the_short_answer_only(tg_app, fake) -> None:
    send_raw(fake, "message", NOT_TEXT["photo"])
    worker_once(tg_app)
    [said] = fake.texts_to(PERSON)
    assert "только текст" in said


# -- the bot: a conversation that expired ------------------------------------------------


def test_an_expired_conversation_says_what_was_lost_and_how_to_start_again(tg_app, fake) -> None:
    converse(
        fake,
        tg_app,
        "/new",
        "Пікет супраць вайны",
        f"press:town:{grodna_id(tg_app)}",
        lang="ru",
    )
    with tg_app.app_context():
        session = db.session(write=True)
        session.scalars(select(TelegramChat)).one().expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    worker_once(tg_app)  # the worker's round forgets the answers
    with tg_app.app_context():
        raw = db.session().execute(text("SELECT state FROM telegram_chat")).scalar()
        kept = db.session().scalars(select(TelegramChat.state)).one()
    assert "Пікет" not in raw and "Пікет" not in kept and "title" in kept
    [said] = converse(fake, tg_app, "Савецкая плошча", lang="ru")
    assert "не отправлена" in said and "Название" in said and "Город" in said
    assert "/new" in said
    assert chat_state(tg_app) == {}
    assert "Название" in converse(fake, tg_app, "/new", lang="ru")[-1]


def test_a_chat_expired_before_the_worker_purged_it_says_so_too(tg_app, fake) -> None:
    converse(fake, tg_app, "/new", "Пікет супраць вайны")
    with tg_app.app_context():
        session = db.session(write=True)
        session.scalars(select(TelegramChat)).one().expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    fake.say(PERSON, "/new")
    with tg_app.app_context(), BotClient.from_config() as client:
        from mapapp.channels.telegram.worker import read_updates

        read_updates(client, 0)  # no purge first
    expired, asked = fake.texts_to(PERSON)[-2:]
    assert "was not sent" in expired and "Title" in expired
    assert "Title" in asked  # /new starts again at once


def test_an_idle_chat_is_simply_forgotten(tg_app, fake) -> None:
    converse(fake, tg_app, "hello")
    with tg_app.app_context():
        session = db.session(write=True)
        session.scalars(select(TelegramChat)).one().expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    worker_once(tg_app)
    with tg_app.app_context():
        assert db.session().scalars(select(TelegramChat)).all() == []


def reveal_passes(app: Flask, rally_id: int) -> None:
    """The reveal time passes: no change is made, time goes by."""
    with app.app_context():
        session = db.session()
        for table in ("rally", "published_rally"):
            session.execute(
                text(f"UPDATE {table} SET reveal_at = :t WHERE id = :id"),  # noqa: S608
                {"t": "2000-01-01 00:00:00", "id": rally_id},
            )
        session.commit()


def test_the_reveal_of_the_place_is_a_reply_once_even_after_a_429(tg_app, fake) -> None:
    # An edit notifies no one: the channel's readers waiting for the place learn it from a
    # reply to the post, as for a new place or a new time; a 429 on that reply loses nothing.
    reveal_at = datetime(NEXT_YEAR, 6, 1, 14, 0, tzinfo=UTC)
    rally_id = posted(tg_app, fake, place="Сакрэтны двор <b>&", reveal_at=reveal_at)
    [post] = fake.sent("sendMessage")
    assert "Сакрэтны" not in post["text"]
    reveal_passes(tg_app, rally_id)
    fake.fail_on["sendMessage"] = ["429"]
    worker_once(tg_app)
    [edit] = fake.sent("editMessageText")
    assert "Сакрэтны двор &lt;b&gt;&amp;" in edit["text"]
    with tg_app.app_context():  # Telegram's retry_after passes
        session = db.session()
        session.execute(text("UPDATE telegram_outbox SET next_at = '2000-01-01 00:00:00'"))
        session.commit()
    worker_once(tg_app)
    worker_once(tg_app)
    [_, reply] = fake.sent("sendMessage")
    assert reply["reply_parameters"]["message_id"] == int(edit["message_id"])
    assert "The exact place is announced: Сакрэтны двор &lt;b&gt;&amp;." in reply["text"]
    assert len(fake.sent("editMessageText")) == 1
