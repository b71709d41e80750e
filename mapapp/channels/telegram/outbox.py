"""The Telegram channel that follows the map: the outbox, the message text, delivery.

A change the public sees (`signals.public_change`) adds an outbox row in the same
transaction as the change: no network, nothing to lose if the request fails after. The
worker (`mapapp.channels.telegram.worker`) delivers due rows in order per rally, rendering the rally from the
public projection at send time, so text waiting for moderation is never sent and a rally
no longer public is taken out of the channel. Reveals are found by time: a message posted
before its rally's place was public is edited once the place is.

Telegram is reached only through `mapapp.channels.telegram.client`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from html import escape
from typing import Any

from flask import Flask, current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from mapapp.channels.telegram.client import (
    BotClient,
    Refused,
    Unavailable,
    channel_for,
    channels,
    configured,
)
from mapapp.domain.models import TelegramMessage, TelegramNotice, TelegramOutbox, utcnow
from mapapp.domain.names import town_name
from mapapp.places.locale import local_datetime
from mapapp.publishing.public import public_rally as projection
from mapapp.publishing.signing import signing_key
from mapapp.publishing.words import (
    headline,
    place_note,
    revealed_sentence,
    status_sentence,
    time_change_sentence,
    verification_sentence,
)

log = logging.getLogger(__name__)

# Changes that edit the message and also reply to it, so subscribers get a notification.
URGENT = ("cancelled", "danger", "moved")
MAX_BACKOFF = 3600  # seconds between tries of one row, at most
GIVE_UP_AFTER = 48  # tries of a row Telegram keeps refusing (a day and more of backoff)


def public_rally(session: Session, rally_id: int) -> Any:  # noqa: ANN401 - a PublicRally
    """The rally as the public sees it now, or None: the one public projection."""
    return projection(session, rally_id)


# -- the outbox -------------------------------------------------------------------------


def enqueue(sender: Flask, session: Session, rally_id: int, kind: str, **_extra: Any) -> None:
    """`public_change` receiver: note the change in the caller's transaction (no commit)."""
    if not (configured(sender) and sender.config.get("TELEGRAM_CHANNEL")):
        return  # no channel: nothing would ever deliver the row
    session.add(TelegramOutbox(rally_id=rally_id, kind=kind, next_at=utcnow()))


def queue_reveals(session: Session) -> int:
    """Add a "revealed" row for each posted rally whose place has become public since."""
    added = 0
    waiting = session.scalars(
        select(TelegramMessage).where(
            TelegramMessage.revealed.is_(False), TelegramMessage.removed.is_(False)
        )
    ).all()
    for message in waiting:
        view = public_rally(session, message.rally_id)
        if view is None or view.place is None:
            continue
        queued = session.scalars(
            select(TelegramOutbox.id).where(
                TelegramOutbox.rally_id == message.rally_id,
                TelegramOutbox.delivered_at.is_(None),
            )
        ).first()
        if queued is None:
            session.add(TelegramOutbox(rally_id=message.rally_id, kind="revealed"))
            added += 1
    session.commit()
    return added


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """Wait before the next try: 5 s doubling to an hour, never less than Telegram asked."""
    seconds = min(MAX_BACKOFF, 5 * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=max(seconds, retry_after or 0))


def call_out(session: Session) -> None:
    """End the session's transaction before a Telegram call: no lock (SQLite's write lock,
    which the worker's transactions take at their start) is held while Telegram answers.
    The objects read stay usable (expire_on_commit is off); what changes after the call is
    written in a short transaction of its own."""
    session.commit()


def deliver_due(
    session: Session, client: BotClient, now: datetime | None = None, limit: int = 200
) -> int:
    """Deliver the due outbox rows, oldest first, keeping each rally's order; returns how many.

    A row that fails waits (backoff) and holds back the later rows of its rally. When
    Telegram is down or asks to slow down, the batch stops: the rest waits for the next.
    """
    now = now or utcnow()
    rows = session.scalars(
        select(TelegramOutbox)
        .where(TelegramOutbox.delivered_at.is_(None))
        .order_by(TelegramOutbox.id)
        .limit(limit)
    ).all()
    session.commit()
    held: set[int] = set()
    delivered = 0
    for row in rows:
        if row.rally_id in held:
            continue
        if row.next_at > now:
            held.add(row.rally_id)
            continue
        try:
            deliver(session, client, row)
        except Unavailable as error:
            session.rollback()
            row.attempts += 1
            row.error = error.kind
            row.next_at = now + backoff(row.attempts, error.retry_after)
            session.commit()
            log.warning("Telegram unavailable: %s", error.kind)
            return delivered
        except Refused as error:
            session.rollback()
            row.attempts += 1
            row.error = error.kind
            row.next_at = now + backoff(row.attempts)
            if row.attempts >= GIVE_UP_AFTER:
                row.delivered_at = now  # kept with its error, for the operator to see
            session.commit()
            held.add(row.rally_id)
            log.warning("Telegram refused a channel message: %s", error.kind)
            continue
        row.delivered_at = now
        row.error = None
        session.commit()
        delivered += 1
    return delivered


def deliver(session: Session, client: BotClient, row: TelegramOutbox) -> None:
    """Bring the channels in line with what the public sees of one rally now.

    Not public (any more): its messages are deleted, or (too old to delete) edited to say it
    was removed, or (not even that) answered with a reply that says it. Public: posted in its
    region's channel, or edited if its text changed; a post in another channel (the region
    changed) is marked as moved there. An urgent change, and a new start time, also reply to
    the post, once (`row.step`, `TelegramMessage.starts_at`); so does the reveal of a hidden
    place (`TelegramMessage.revealed`, set once the reply is sent). Message ids are committed as
    soon as Telegram gives them, so a retry edits what was posted rather than post again.
    No transaction is open during a Telegram call (`call_out`).
    """
    view = public_rally(session, row.rally_id)
    if view is None:
        remove_all(session, client, row.rally_id, "removed")
        return
    chat = channel_for(view.region)
    remove_all(session, client, row.rally_id, "region", keep=chat)
    if chat is None:
        return
    lang = current_app.config.get("TELEGRAM_LANGUAGE") or "be"
    with in_language(lang):
        text = message_text(view, lang)
        urgent = urgent_text(view.status) if row.kind in URGENT else None
    message = session.get(TelegramMessage, (row.rally_id, chat))
    if row.step < 1:
        post_or_edit(session, client, chat, message, view, text)
        row.step = 1
        session.commit()
        message = session.get(TelegramMessage, (row.rally_id, chat))
    if urgent and row.step < 2 and message is not None and row.kind == view.status:
        call_out(session)
        client.send_message(chat, f"<b>{escape(urgent)}</b>", reply_to=message.message_id)
        row.step = 2
        session.commit()
    if message is not None and not message.revealed and view.place is not None:
        # The place, hidden in the post, is now public: an edit notifies no one, a reply does.
        # Marked only once the reply is sent (post_or_edit leaves the mark to this step).
        # A cancelled rally's place is not announced to anyone: no one should go there.
        if view.status != "cancelled":
            reply = f"📍 <b>{escape(revealed_sentence(view.place, lang))}</b>"
            call_out(session)
            client.send_message(chat, reply, reply_to=message.message_id)
        message.revealed = True
        session.commit()
    if message is not None and message.starts_at != view.starts_at:
        if message.starts_at is not None:  # None: a post from before starts were kept
            with in_language(lang):
                reply = time_reply(message.starts_at, view.starts_at, lang)
            call_out(session)
            client.send_message(chat, reply, reply_to=message.message_id)
        message.starts_at = view.starts_at
        session.commit()


def time_reply(previous: datetime, starts_at: datetime, lang: str) -> str:
    """The reply to a post whose rally's start moved; an earlier start is urgent (bold, ⚠️):
    people who planned for the old time would come late."""
    sentence = escape(time_change_sentence(previous, starts_at, lang))
    if starts_at < previous:
        earlier = escape(_("Earlier start!"))
        return f"⚠️ <b>{earlier} {sentence}</b>"
    return f"🕒 {sentence}"


def post_or_edit(
    session: Session,
    client: BotClient,
    chat: str,
    message: TelegramMessage | None,
    view: Any,  # noqa: ANN401
    text: str,
) -> None:
    """Post the rally's text in `chat`, or edit the post there. A post deleted by hand is
    posted again; a post that can no longer be edited gets the new text as a reply that
    says the post above is out of date, and that reply is the rally's post from then on."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    revealed = view.place is not None
    reply_to = None
    if message is not None and not message.removed:
        if message.text_hash == digest:
            return  # the channel already says this
        call_out(session)
        try:
            client.edit_message(chat, message.message_id, text)
        except Refused as error:
            if error.gone:
                message.removed = True  # deleted by hand in the channel: post it anew
            elif error.stuck:
                reply_to = message.message_id
                lang = current_app.config.get("TELEGRAM_LANGUAGE") or "be"
                with in_language(lang):
                    stale = _("The post above is out of date: this is the rally now.")
                text = f"⚠️ <b>{escape(stale)}</b>\n\n{text}"
            else:
                raise
        else:
            # A hidden place stays marked hidden until deliver's reply says it is public.
            message.text_hash, message.revealed = digest, message.revealed and revealed
            session.commit()
            return
    call_out(session)
    message_id = client.send_message(chat, text, reply_to=reply_to)
    if message is None:
        message = TelegramMessage(
            rally_id=view.id, chat=chat, message_id=message_id, starts_at=view.starts_at
        )
        session.add(message)
    message.message_id, message.text_hash = message_id, digest
    message.revealed, message.removed = revealed, False
    message.starts_at = view.starts_at  # a new post (or reply) tells the start it shows
    session.commit()


def remove_all(
    session: Session, client: BotClient, rally_id: int, why: str, keep: str | None = None
) -> None:
    """Take a rally out of every channel but `keep`: delete its post, or (too old to delete:
    Telegram refuses after 48 hours; or moved to another region: its readers must learn
    where) edit it to say why, or (not even that) reply to it.
    `why`: "removed" (no longer public) or "region" (now in another region's channel).
    Never counted done while the old post still stands as it was."""
    messages = session.scalars(
        select(TelegramMessage).where(
            TelegramMessage.rally_id == rally_id,
            TelegramMessage.removed.is_(False),
            TelegramMessage.chat != (keep or ""),
        )
    ).all()
    lang = current_app.config.get("TELEGRAM_LANGUAGE") or "be"
    for message in messages:
        with in_language(lang):
            said = gone_text(rally_id, why, lang)
        call_out(session)
        try:
            if why == "region":  # its readers learn where it went: edited, not deleted
                raise Refused("Moved", stuck=True)
            client.delete_message(message.chat, message.message_id)
        except Refused as error:
            if not error.gone:  # too old to delete: say so instead of leaving the old text
                try:
                    client.edit_message(message.chat, message.message_id, said)
                except Refused as again:
                    if not again.gone:  # can't be edited either: a reply says it
                        client.send_message(message.chat, said, reply_to=message.message_id)
        message.removed = True
        session.commit()


def gone_text(rally_id: int, why: str, lang: str) -> str:
    """What an old post says once its rally left the channel, with where to look now."""
    base = base_url()
    if why == "region":
        sentence = _("This rally moved to another region's channel.")
        link = f"{base}/rallies/{rally_id}?lang={lang}"
    else:
        sentence = _("This rally was removed from the map.")
        link = f"{base}/?lang={lang}"
    if not base:
        return f"<b>{escape(sentence)}</b>"
    label = escape(_("Rally page") if why == "region" else _("Map"))
    return f'<b>{escape(sentence)}</b>\n<a href="{escape(link, quote=True)}">{label}</a>'


# -- the text ---------------------------------------------------------------------------


def base_url() -> str:
    """The site's public address (no trailing slash), from settings, never from a request."""
    configured = current_app.config.get("BASE_URL")
    if configured:
        return configured.rstrip("/")
    server = current_app.config.get("SERVER_NAME")
    if server:
        scheme = current_app.config.get("PREFERRED_URL_SCHEME", "http")
        return f"{scheme}://{server}{current_app.config.get('APPLICATION_ROOT', '/')}".rstrip("/")
    return ""


@contextmanager
def in_language(lang: str) -> Iterator[None]:
    """Translate (Flask-Babel, Flask-WTF) and build URLs as a page in `lang` would.

    The worker has no request; this gives it one for the site's own address and language.
    Flask-Babel keeps the locale on `g`, which the worker's app context shares across
    requests, hence `force_locale` too.
    """
    with (
        current_app.test_request_context(
            "/", base_url=base_url() or None, query_string={"lang": lang}
        ),
        force_locale(lang),
    ):
        yield


def urgent_text(status: str) -> str | None:
    """The fixed sentence of an urgent status, in the current language (never free text):
    mapapp.publishing.words's, as every output's."""
    return status_sentence(status, str(get_locale() or "be")) or None


def message_text(view: Any, lang: str) -> str:  # noqa: ANN401 - a PublicRally
    """A rally as a Telegram HTML message; every piece of user text escaped.

    Title, status sentence, town (and the place once revealed, else when it will be), day and
    time in Minsk, links to the rally page and the map from the site's declared address.
    """
    lines = [f"<b>{escape(view.title)}</b>"]
    sentence = headline(view, lang)  # an urgent status, or a time change with the old time
    if sentence:
        lines.append(f"⚠️ <b>{escape(sentence)}</b>")
    where = town_name(view, lang)
    if view.place:
        where = f"{where}, {view.place}"
    lines.append(f"📍 {escape(where)}")
    announced = place_note(view, lang)  # as every output says it; none once cancelled
    if announced:
        lines.append(escape(announced))
    lines.append(f"🗓 {escape(local_datetime(view.starts_at, 'full', lang))}")
    lines.append(f"✔ {escape(verification_sentence(view, lang))}")
    base = base_url()
    if base:
        page = escape(f"{base}/rallies/{view.id}?lang={lang}", quote=True)
        whole_map = escape(f"{base}/?lang={lang}", quote=True)
        lines.append(
            f'<a href="{page}">{escape(_("Rally page"))}</a> · '
            f'<a href="{whole_map}">{escape(_("Map"))}</a>'
        )
    return "\n".join(lines)


# -- the site's own posts ------------------------------------------------------------------

KEY_NOTICE = "signing-key"


def announce_key(session: Session, client: BotClient) -> int:
    """Post the signing key's fingerprint in every channel (and pin it) once, and again
    whenever the key changes (MAPAPP_SIGNING_KEY); returns how many posts were made.

    People compare it with the fingerprint a copy of the map shows (mapapp.publishing.signing):
    a forger who hands out a copy with a key of their own cannot change the channel's post.
    Pinning needs the bot's right to pin: without it the post stands unpinned.
    """
    key = signing_key(current_app._get_current_object())
    setting = current_app.config.get("TELEGRAM_CHANNEL")
    if key is None or not setting:
        return 0
    lang = current_app.config.get("TELEGRAM_LANGUAGE") or "be"
    posted = 0
    for chat in sorted(set(channels(setting).values())):
        notice = session.get(TelegramNotice, (KEY_NOTICE, chat))
        if notice is not None and notice.value == key.fingerprint:
            continue
        with in_language(lang):
            text = key_text(key.fingerprint, notice.value if notice else None)
        call_out(session)
        message_id = client.send_message(chat, text)
        with suppress(Refused, Unavailable):
            client.pin_message(chat, message_id)
        if notice is None:
            notice = TelegramNotice(name=KEY_NOTICE, chat=chat)
            session.add(notice)
        notice.value, notice.message_id, notice.posted_at = key.fingerprint, message_id, utcnow()
        session.commit()
        posted += 1
    return posted


def key_text(fingerprint: str, previous: str | None) -> str:
    """The channel's post of the key's fingerprint (HTML), in the current language."""
    lines = []
    if previous:
        lines.append(
            "⚠️ <b>"
            + escape(_("The key that signs copies of the map has changed."))
            + "</b> "
            + escape(_("The old fingerprint was: %(fingerprint)s", fingerprint=previous))
        )
    lines.append(
        escape(
            _(
                "Copies of the map (the offline file and the exports) are signed. Compare the fingerprint a copy shows with this one:"
            )
        )
    )
    lines.append(f"<code>{escape(fingerprint)}</code>")
    base = base_url()
    if base:
        verify = escape(f"{base}/verify", quote=True)
        lines.append(f'<a href="{verify}">{escape(_("Check a copy"))}</a>')
    return "\n".join(lines)
