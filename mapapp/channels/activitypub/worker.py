"""The ActivityPub worker: `flask --app mapapp activitypub-worker [--once]`.

One process (a Procfile `apworker:` line) beside the web workers: each round it notices
places revealed by their time, turns queued changes into deliveries and sends what is due.
Run one: two would send a change twice.
"""

from __future__ import annotations

import logging
import re
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from mapapp.channels.activitypub import keys, outbox
from mapapp.domain import db
from mapapp.domain.signals import public_change
from mapapp.places.locale import LANGUAGES

log = logging.getLogger(__name__)

ROUND_SECONDS = 2.0  # a round at most this often: a danger Note waits about this long


def init_app(app: Flask) -> None:
    """Check the settings, load the key, listen for public changes, add the command.

    :raise RuntimeError: ActivityPub on without MAPAPP_BASE_URL (every id is under it), or
        outside development without MAPAPP_HASH_KEY (followers' hashes must survive a restart),
        or with a name or language that cannot be used.
    """
    if app.config.get("ACTIVITYPUB"):
        if not app.config.get("BASE_URL"):
            raise RuntimeError("MAPAPP_ACTIVITYPUB needs MAPAPP_BASE_URL (the actor's address).")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,30}", str(app.config.get("ACTIVITYPUB_NAME"))):
            raise RuntimeError("MAPAPP_ACTIVITYPUB_NAME: 1-30 letters, digits or _.")
        if app.config.get("ACTIVITYPUB_LANGUAGE") not in LANGUAGES:
            raise RuntimeError("MAPAPP_ACTIVITYPUB_LANGUAGE: be, ru or en.")
        relaxed = app.config.get("DEVELOPMENT") or app.config.get("TESTING")
        if not (app.config.get("HASH_KEY") or relaxed):
            raise RuntimeError(
                "MAPAPP_ACTIVITYPUB needs MAPAPP_HASH_KEY: followers are kept as keyed hashes, "
                "and a key made at each start would lose every Undo."
            )
    keys.init_app(app)
    public_change.connect(outbox.enqueue)  # a module function: connected once, for every app
    app.cli.add_command(activitypub_worker_command)


def run_once() -> dict[str, int]:
    """One round: queue reveals, turn changes into deliveries, deliver what is due."""
    session = db.session()
    counts = {"revealed": outbox.queue_reveals(session)}
    counts["changes"] = outbox.process_changes(session)
    counts |= outbox.deliver_due(session)
    return counts


@click.command("activitypub-worker")
@click.option("--once", is_flag=True, help="Do what is due now, then exit.")
@with_appcontext
def activitypub_worker_command(once: bool) -> None:
    """Send rallies to ActivityPub followers (Mastodon, Mobilizon, Gancio)."""
    if not current_app.config.get("ACTIVITYPUB"):
        raise click.ClickException("Set MAPAPP_ACTIVITYPUB=1 (see docs/operators.md) first.")
    while True:
        started = time.monotonic()
        try:
            counts = run_once()
        except Exception as error:
            if once:
                raise
            log.error("ActivityPub worker round failed: %s", type(error).__name__)
            db.session().rollback()
            time.sleep(5)
            continue
        if once:
            click.echo(
                f"{counts['changes']} changes, {counts['revealed']} places revealed, "
                f"{counts['delivered']} deliveries sent, {counts['failed']} servers failing, "
                f"{counts['dropped']} dropped."
            )
            return
        time.sleep(max(0.0, ROUND_SECONDS - (time.monotonic() - started)))
