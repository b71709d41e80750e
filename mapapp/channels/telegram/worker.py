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
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import delete

from mapapp.channels.telegram import bot, outbox
from mapapp.channels.telegram.client import BotClient, Refused, Unavailable, configured
from mapapp.channels.telegram.client import init_app as init_client
from mapapp.domain import db
from mapapp.domain.models import TelegramChat, TelegramCursor, utcnow
from mapapp.domain.signals import public_change

log = logging.getLogger(__name__)

POLL_SECONDS = 10  # long-poll wait: the outbox (a danger status) waits at most this long
IDLE_SECONDS = 5  # pause after Telegram failed, before the next round


def init_app(app: Flask) -> None:
    init_client(app)
    public_change.connect(outbox.enqueue)  # a module function: connected once, for every app
    app.cli.add_command(telegram_worker_command)


def run_once(client: BotClient, poll_seconds: int = 0) -> dict[str, int]:
    """One round: forget expired chats, queue reveals, deliver what is due, read updates.

    Returns counts (delivered, revealed, updates; down: 1 when Telegram could not be asked).
    """
    session = db.session()
    session.execute(delete(TelegramChat).where(TelegramChat.expires_at < utcnow()))
    session.commit()
    counts = {"revealed": outbox.queue_reveals(session)}
    counts["delivered"] = outbox.deliver_due(session, client)
    updates = read_updates(client, poll_seconds)
    counts["updates"], counts["down"] = max(updates, 0), int(updates < 0)
    return counts


def read_updates(client: BotClient, poll_seconds: int) -> int:
    """Take one batch of the bot's updates and answer them; the offset moves past each.

    Returns how many were read, or -1 when Telegram could not be asked.
    """
    session = db.session()
    cursor = session.get(TelegramCursor, "updates")
    offset = cursor.value if cursor else None
    try:
        updates = client.get_updates(offset, poll_seconds)
    except (Unavailable, Refused) as error:
        log.warning("Telegram updates unavailable: %s", error.kind)
        return -1
    for update in updates:
        try:
            bot.handle(session, client, update)
        except Unavailable as error:
            log.warning("Telegram unavailable while answering: %s", error.kind)
        except Refused as error:
            log.warning("Telegram refused an answer: %s", error.kind)
        except Exception as error:  # noqa: BLE001 - one update must never stop the bot
            # Any fault in answering one update (a bug, text nobody foresaw) stays with that
            # update: logged by type, answered with an apology, skipped below.
            log.error("Telegram update failed: %s", type(error).__name__)
            session.rollback()
            bot.answer_failure(session, client, update)
        session.rollback()  # anything the handler left uncommitted is not kept
        cursor = session.get(TelegramCursor, "updates")
        if cursor is None:
            cursor = TelegramCursor(name="updates", value=0)
            session.add(cursor)
        # Past this update even when answering failed: a poisoned update must not loop forever.
        cursor.value = update.update_id + 1
        session.commit()
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
