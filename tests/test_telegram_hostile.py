"""A hostile or broken Bot API cannot hang the worker, grow it, or stop deliveries."""

from __future__ import annotations

import time

import pytest
from fake_telegram import TOKEN

from mapapp.channels.telegram import client as client_module
from mapapp.channels.telegram.client import BotClient, Unavailable
from mapapp.channels.telegram.outbox import backoff


def test_a_retry_after_of_ten_to_the_fifteen_is_bounded(fake) -> None:
    fake.fail_next.append("retry-forever")
    with BotClient(TOKEN, fake.url) as bot, pytest.raises(Unavailable) as raised:
        bot.send_message(1, "x")
    assert raised.value.retry_after == client_module.MAX_RETRY_AFTER
    assert backoff(1, raised.value.retry_after).total_seconds() <= 3600  # schedulable
    with BotClient(TOKEN, fake.url) as bot:
        assert bot.send_message(1, "x") > 0  # and the next call goes through


def test_an_endless_answer_is_cut_off(fake, monkeypatch) -> None:
    monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", 2**20)
    fake.fail_next.append("huge")
    with BotClient(TOKEN, fake.url) as bot, pytest.raises(Unavailable):
        bot.get_updates(None)


def test_a_trickling_answer_ends_at_the_deadline(fake, monkeypatch) -> None:
    monkeypatch.setattr(client_module, "CALL_SECONDS", 2.0)
    fake.fail_next.append("trickle")
    started = time.monotonic()
    with BotClient(TOKEN, fake.url) as bot, pytest.raises(Unavailable) as raised:
        bot.send_message(1, "x")
    assert raised.value.kind == "Deadline"
    assert time.monotonic() - started < 6  # not the minute the trickle would last


@pytest.mark.parametrize("value", [10**15, float("inf"), float("nan"), -5, "junk", None])
def test_bounded_retry_after(value) -> None:
    assert 1.0 <= client_module.bounded_retry_after(value) <= client_module.MAX_RETRY_AFTER
