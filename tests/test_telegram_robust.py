"""The bot survives any update: a fault in one is contained, answered, and skipped.

Hypothesis throws malformed updates and button data at the worker through the fake Bot API
(tests/fake_telegram.py); whatever arrives, the worker's round completes, its offset moves
past every update, and the next person is still answered.
"""

from __future__ import annotations

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_telegram import PERSON, converse, worker_once

from mapapp.channels.telegram import bot
from mapapp.channels.telegram.client import BotClient
from mapapp.channels.telegram.worker import run_once
from mapapp.domain import db
from mapapp.domain.models import TelegramCursor

OTHER = 515151  # another person, who must still be answered


def cursor(app) -> int | None:
    with app.app_context():
        return db.session().scalar(select(TelegramCursor.value))


def test_a_superscript_digit_in_button_data_does_not_stop_the_bot(tg_app, fake) -> None:
    replies = converse(fake, tg_app, "/new", "A title long enough", "press:town:²")
    assert len(replies) == 3  # the question again, not a crash
    assert "Town" in replies[-1] or "town" in replies[-1]
    assert cursor(tg_app) == fake.updates[-1]["update_id"] + 1
    fake.say(OTHER, "/new")
    worker_once(tg_app)
    assert fake.texts_to(OTHER)  # the next chat is answered


def test_reveal_data_that_is_no_number_asks_again(tg_app, fake) -> None:
    for data in ("reveal:²", "reveal:٣", "reveal:99999999999999999999"):
        with tg_app.app_context():
            session = db.session()
            chat = bot.TelegramChat(
                key=bot.chat_key(PERSON), window_at=bot.utcnow(), updates=0, submissions=0
            )
            chat.expires_at = bot.utcnow() + bot.timedelta(hours=1)
            chat.state = '{"step": "reveal"}'
            session.merge(chat)
            session.commit()
        replies = converse(fake, tg_app, f"press:{data}")
        assert "exact place" in replies[-1]


def test_any_fault_in_one_update_is_contained_answered_and_skipped(
    tg_app, fake, monkeypatch, caplog
) -> None:
    original = bot.Conversation.answer

    def faulty(self, text: str) -> None:
        if text == "boom":
            raise ValueError("a fault nobody foresaw: секрэт")
        original(self, text)

    monkeypatch.setattr(bot.Conversation, "answer", faulty)
    converse(fake, tg_app, "/new")
    fake.say(PERSON, "boom")
    fake.say(OTHER, "/new")
    with caplog.at_level(logging.WARNING):
        worker_once(tg_app)
    assert "Something went wrong" in fake.texts_to(PERSON)[-1]  # answered with an apology
    assert fake.texts_to(OTHER)  # the next update is answered in the same round
    assert cursor(tg_app) == fake.updates[-1]["update_id"] + 1  # and never retried
    assert "секрэт" not in caplog.text and "ValueError" in caplog.text
    before = len(fake.calls)
    worker_once(tg_app)
    assert [m for m, _ in fake.calls[before:]] == ["getUpdates"]  # nothing answered twice
    # The conversation starts again rather than meet the fault with the next message.
    assert "Title" in converse(fake, tg_app, "/new")[-1]


def test_an_update_the_bot_cannot_read_is_skipped(tg_app, fake) -> None:
    fake.next_update_id += 1
    fake.updates.append(
        {"update_id": fake.next_update_id, "message": {"chat": "not an object", "date": "x"}}
    )
    fake.say(OTHER, "/new")
    worker_once(tg_app)
    assert fake.texts_to(OTHER)
    assert cursor(tg_app) == fake.updates[-1]["update_id"] + 1


# -- fuzzing ---------------------------------------------------------------------------

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
DATA = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["town:", "reveal:", "lang:", "confirm", "skip", "/new", "/cancel"]).flatmap(
        lambda prefix: st.text(max_size=12).map(lambda rest: prefix + rest)
    ),
    st.sampled_from(["town:²", "town:-1", "town:0x10", "reveal:٣", "lang:xx", "town:9" * 30]),
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "message": JSON,
        "callback_query": JSON,
        "edited_message": JSON,
        "channel_post": JSON,
    },
)


@FUZZ
@given(
    steps=st.lists(st.tuples(st.sampled_from(["say", "press"]), DATA), max_size=8),
    junk=st.lists(FIELDS, max_size=3),
)
def test_the_bot_survives_every_malformed_update(tg_app, fake, steps, junk) -> None:
    fake.say(PERSON, "/new")
    for kind, data in steps:
        getattr(fake, kind)(PERSON, data)
    for fields in junk:
        fake.next_update_id += 1
        fake.updates.append({"update_id": fake.next_update_id, **fields})
    fake.say(OTHER, "/cancel")
    with tg_app.app_context(), BotClient.from_config() as client:
        run_once(client)  # raises nothing
    assert cursor(tg_app) == fake.updates[-1]["update_id"] + 1
    assert "Stopped" in fake.texts_to(OTHER)[-1]
