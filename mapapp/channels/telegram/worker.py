"""The Telegram worker: `flask --app mapapp telegram-worker [--once]`.

One process (a Procfile `worker:` line): it delivers the channel outbox, notices places
revealed by time, and reads the bot's updates by long polling. Run only one: the update
offset and the conversations are shared through the database, but two pollers would
answer each update twice.
"""

from __future__ import annotations

import logging
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError

from mapapp.channels.telegram import bot, outbox
from mapapp.channels.telegram.client import BotClient, Refused, Unavailable, configured
from mapapp.channels.telegram.client import init_app as init_client
from mapapp.domain import db
from mapapp.domain.models import TelegramCursor
from mapapp.domain.signals import public_change

log = logging.getLogger(__name__)

POLL_SECONDS = 10  # long-poll wait: the outbox (a danger status) waits at most this long
IDLE_SECONDS = 5  # pause after Telegram failed, before the next round
KEY_NOTICE_PAUSE = 600  # seconds before the key's fingerprint is tried again after a failure


def init_app(app: Flask) -> None:
    init_client(app)
    public_change.connect(outbox.enqueue)  # a module function: connected once, for every app
    app.cli.add_command(telegram_worker_command)


def run_once(client: BotClient, poll_seconds: int = 0) -> dict[str, int]:
    """One round: forget expired chats, queue reveals, deliver what is due (the channel's
    changes, the key's fingerprint, the bot's replies), read updates.

    Returns counts (delivered, revealed, updates; down: 1 when Telegram could not be asked).

    The worker's transactions take SQLite's write lock at their start (`db.session(write=
    True)`, BEGIN IMMEDIATE: a web write in between cannot make a later write of the same
    transaction fail with "database is locked"; a write lock held by the web is waited for,
    up to the busy timeout), and every one of them ends before Telegram or Nominatim is
    asked: read, commit, call out, then a short write.
    """
    session = db.session(write=True)
    bot.purge_chats(session)
    counts = {"revealed": outbox.queue_reveals(session)}
    counts["delivered"] = outbox.deliver_due(session, client)
    pause = current_app.extensions.setdefault("mapapp.telegram_key_notice", {"after": 0.0})
    if time.monotonic() >= pause["after"]:
        try:
            outbox.announce_key(session, client)
        except (Unavailable, Refused) as error:
            session.rollback()
            # Not every round: a channel that refuses (the bot not an admin) is asked again
            # in KEY_NOTICE_PAUSE, Telegram busy after its retry_after.
            wait = getattr(error, "retry_after", None) or KEY_NOTICE_PAUSE
            pause["after"] = time.monotonic() + wait
            log.warning("Telegram: the key's fingerprint not posted: %s", error.kind)
    bot.deliver_replies(session, client)
    updates = read_updates(client, poll_seconds)
    counts["updates"], counts["down"] = max(updates, 0), int(updates < 0)
    return counts


def read_updates(client: BotClient, poll_seconds: int) -> int:
    """Take one batch of the bot's updates and answer them; the offset moves past each.

    Each update's answers (queued in the bot's outbox), its conversation's state and the
    offset past it are committed together: an update is answered once, even when a commit
    fails (then nothing of it was kept, and it is read again). The replies are sent after.
    Returns how many were read, or -1 when Telegram could not be asked.
    """
    session = db.session(write=True)
    cursor = session.get(TelegramCursor, "updates")
    offset = cursor.value if cursor else None
    session.commit()  # no transaction open during the long poll
    try:
        updates = client.get_updates(offset, poll_seconds)
    except (Unavailable, Refused) as error:
        log.warning("Telegram updates unavailable: %s", error.kind)
        return -1
    for update in updates:
        try:
            bot.handle(session, client, update)
            bot.advance(session, update.update_id)
            session.commit()
        except OperationalError:
            session.rollback()
            raise  # the database: nothing of this update was kept; the round is tried again
        except Exception as error:  # noqa: BLE001 - one update must never stop the bot
            # Any fault in answering one update (a bug, text nobody foresaw) stays with that
            # update: logged by type, answered with an apology, skipped.
            log.error("Telegram update failed: %s", type(error).__name__)
            session.rollback()
            bot.answer_failure(session, client, update)
            # Past this update even when answering failed: a poisoned update must not loop.
            bot.advance(session, update.update_id)
            session.commit()
        bot.deliver_replies(session, client)
    return len(updates)


@click.command("telegram-worker")
@click.option("--once", is_flag=True, help="Deliver what is due, take one batch of updates, exit.")
@with_appcontext
def telegram_worker_command(once: bool) -> None:
    """Post rallies to the Telegram channel and answer the bot's chats."""
    if not configured():
        raise click.ClickException("Set MAPAPP_TELEGRAM_BOT_TOKEN (see docs/operators.md) first.")
    poll = 0 if once else POLL_SECONDS
    with BotClient.from_config(poll) as client:
        while True:
            started = time.monotonic()
            try:
                counts = run_once(client, poll)
            except Exception as error:
                if once:
                    raise
                log.error("Telegram worker round failed: %s", type(error).__name__)
                db.session().rollback()
                time.sleep(IDLE_SECONDS)
                continue
            if once:
                click.echo(
                    f"Delivered {counts['delivered']} channel changes, "
                    f"{counts['revealed']} places revealed, {counts['updates']} updates read."
                )
                return
            # Telegram down answers at once: don't spin on it (or fill the log).
            pause = IDLE_SECONDS if counts["down"] else 1.0
            time.sleep(max(0.0, pause - (time.monotonic() - started)))
