"""The bot's private chats: submitting a rally step by step, as the web form would.

`/new` asks for the title, town (gazetteer suggestions as buttons), place, date and time,
when to reveal the place, and an optional contact; shows a summary with the geocoded
place (a location message); on confirm the answers go through `forms.RallyForm` and
`lifecycle.submit`, the web form's own validation and storage, and the reply carries the
manage link. Messages are the form's, in the chat's language.

Privacy: the rally gets nothing of the chat. A chat is known here only by a keyed hash of
its id (`TelegramChat.key`); its row holds the answers so far and rate-limit counters and
is deleted an hour after it began (the worker purges expired rows) or when the
conversation ends. Telegram is reached only through `mapapp.channels.telegram.client`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from html import escape
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from mapapp.channels.telegram.client import BotClient, Incoming, Refused, Unavailable
from mapapp.channels.telegram.outbox import backoff, base_url, in_language
from mapapp.domain import contacts, lifecycle, rules
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import TelegramChat, TelegramCursor, TelegramReply, utcnow
from mapapp.places.locale import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, local_datetime
from mapapp.web.forms import RallyForm, locate, rally_fields
from mapapp.web.keyed import keyed_hash

log = logging.getLogger(__name__)

CHAT_HOURS = 1  # a chat's row (answers, counters) lives this long
UPDATES_PER_HOUR = 120  # messages and button presses a chat may send an hour
SUBMISSIONS_PER_HOUR = 3  # rallies a chat may send an hour
REVEAL_HOURS = (0, 1, 2, 3, 6)  # choices for "when does the place become public"
BIG_TOWNS = ("Мінск", "Брэст", "Віцебск", "Гомель", "Гродна", "Магілёў")
STEPS = ("title", "town", "place", "when", "reveal", "contact", "confirm")
ANSWERS = ("title", "town", "place", "date", "contact")  # what an expired chat had answered
EXPIRED_HOURS = 24  # an expired conversation's row (only the names above) lives this long
REPLY_TRIES = 5  # a reply Telegram refuses (the person blocked the bot) is dropped after
_DATE = re.compile(r"^([0-9]{1,2})[./]([0-9]{1,2})[./]([0-9]{4})$")
_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: "²".isdigit() is true, int("²") fails


def number(text: str) -> int | None:
    """The whole number a button's data carries, or None."""
    return int(text) if _NUMBER.fullmatch(text) else None


def chat_key(chat_id: int) -> str:
    """A chat's id, keyed with the hash key (mapapp.web.keyed: not on the server's disk).

    The table alone, or the whole disk, does not give the id back.
    """
    return keyed_hash("telegram-chat", str(chat_id))


def chat_language(chat: TelegramChat | None, language_code: str | None) -> str:
    if chat is not None and chat.language in LANGUAGES:
        return chat.language
    code = (language_code or "").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def handle(session: Session, client: BotClient, update: Incoming) -> None:
    """Answer one update from a private chat (others are ignored); no commit.

    The chat's row is read in a transaction of its own, ended before anything else: no
    transaction is open while Telegram (a button's notice) or Nominatim (the place) is
    asked. The answers go into the bot's outbox (`say`), with the conversation's state, in
    the caller's one transaction (with the update offset): an update is answered once, and
    a reply Telegram refused for now is sent later (`deliver_replies`).
    """
    if update.chat_id is None or not update.private:
        return  # channel posts, groups: answering there would be wrong
    now = utcnow()
    key = chat_key(update.chat_id)
    chat = session.get(TelegramChat, key)
    session.commit()  # the read ends here: what follows is written in one short transaction
    lost: list[str] | None = None
    if chat is not None and chat.expires_at <= now and expire(chat, now) is None:
        chat.state = chat.language = None  # as if the row had been deleted (no flush here)
        chat.window_at, chat.updates, chat.submissions = now, 0, 0
        chat.expires_at = now + timedelta(hours=CHAT_HOURS)
    trace = json.loads(chat.state) if chat is not None and chat.state else {}
    if isinstance(trace.get("expired"), list):  # a conversation that expired: say so
        lost = trace["expired"]
        chat.state = None
        chat.window_at, chat.updates, chat.submissions = now, 0, 0
        chat.expires_at = now + timedelta(hours=CHAT_HOURS)
    if chat is None:
        chat = TelegramChat(key=key, window_at=now, updates=0, submissions=0)
        chat.expires_at = now + timedelta(hours=CHAT_HOURS)
        session.add(chat)
    chat.updates += 1
    lang = chat_language(chat, update.language_code)
    with in_language(lang):
        if chat.updates > UPDATES_PER_HOUR:
            if chat.updates == UPDATES_PER_HOUR + 1:
                say(session, update.chat_id, escape(_("Too many messages: try again in an hour.")))
            if update.callback_id:
                with suppress(Unavailable, Refused):
                    client.answer_button(update.callback_id)
            return
        conversation = Conversation(session, client, chat, update.chat_id, lang)
        if lost is not None:
            conversation.expired(lost)
            command = (update.text or "").strip().split("@")[0].lower()
            if update.kind != "text" or command != "/new":
                if update.callback_id:
                    with suppress(Unavailable, Refused):
                        client.answer_button(update.callback_id)
                return
        conversation.take(update)


def expire(chat: TelegramChat, now: datetime) -> list[str] | None:
    """An expired chat: its answers are deleted. When a conversation was under way, the chat
    is kept EXPIRED_HOURS more with only the names of the questions answered (no answer), so
    that its next message is told what was lost; returns those names, or None (delete it)."""
    state = json.loads(chat.state) if chat.state else {}
    if not state.get("step"):
        return None
    lost = [name for name in ANSWERS if state.get(name)]
    chat.state = json.dumps({"expired": lost})
    chat.window_at, chat.updates, chat.submissions = now, 0, 0
    chat.expires_at = now + timedelta(hours=EXPIRED_HOURS)
    return lost


def purge_chats(session: Session, now: datetime | None = None) -> None:
    """The worker's round: expired chats lose their answers (`expire`) or are deleted."""
    now = now or utcnow()
    for chat in session.scalars(select(TelegramChat).where(TelegramChat.expires_at <= now)):
        if expire(chat, now) is None:
            session.delete(chat)
    session.commit()


def advance(session: Session, update_id: int) -> None:
    """Move the update offset past `update_id`, in the caller's transaction."""
    cursor = session.get(TelegramCursor, "updates")
    if cursor is None:
        session.add(TelegramCursor(name="updates", value=update_id + 1))
    elif cursor.value <= update_id:
        cursor.value = update_id + 1


# -- the bot's outbox ---------------------------------------------------------------------


def say(
    session: Session,
    chat_id: int,
    text: str,
    buttons: Sequence[Sequence[tuple[str, str]]] = (),
    location: tuple[float, float] | None = None,
) -> None:
    """Queue a message to a private chat (HTML, escaped by the caller), or a location, in the
    caller's transaction; `deliver_replies` sends it after the commit, with retries."""
    payload = {
        "chat_id": chat_id,
        "text": text,
        "buttons": [list(map(list, row)) for row in buttons],
    }
    if location is not None:
        payload = {"chat_id": chat_id, "location": list(location)}
    sealed = reply_cipher().encrypt(json.dumps(payload).encode()).decode("ascii")
    session.add(TelegramReply(chat=chat_key(chat_id), payload=sealed, next_at=utcnow()))


def reply_cipher() -> Fernet | MultiFernet:
    """What seals a waiting reply (a chat id, maybe a manage link): the contact key when one
    is set (a reply then survives a restart), else a key derived from the hash key, which is
    never on disk (a reply still waiting when the worker restarts without MAPAPP_HASH_KEY is
    then lost: it cannot be read)."""
    found = contacts.cipher()
    if found is not None:
        return found
    derived = bytes.fromhex(keyed_hash("telegram-reply", "seal"))
    return Fernet(base64.urlsafe_b64encode(derived))


def deliver_replies(session: Session, client: BotClient, now: datetime | None = None) -> int:
    """Send the bot's due replies in order (each chat's in its order); returns how many.

    Sent: deleted. Telegram busy (429: after its retry_after, bounded), failing (5xx) or
    not answering (a timeout): tried again later with backoff, and the batch stops. Refused
    (the person blocked the bot): tried REPLY_TRIES times, then dropped. No transaction is
    open during a call.
    """
    now = now or utcnow()
    rows = session.scalars(select(TelegramReply).order_by(TelegramReply.id).limit(200)).all()
    session.commit()
    held: set[str] = set()
    sent = 0
    for row in rows:
        if row.chat in held:
            continue
        if row.next_at > now:
            held.add(row.chat)
            continue
        try:
            payload = json.loads(reply_cipher().decrypt(row.payload.encode("ascii")))
        except (InvalidToken, ValueError):
            log.warning("Telegram reply sealed with a key no longer known: dropped")
            session.delete(row)
            session.commit()
            continue
        try:
            if "location" in payload:
                lat, lon = payload["location"]
                client.send_location(payload["chat_id"], lat, lon)
            else:
                client.send_message(
                    payload["chat_id"],
                    payload["text"],
                    buttons=[[tuple(button) for button in line] for line in payload["buttons"]],
                )
        except Unavailable as error:
            row.attempts += 1
            row.error = error.kind
            row.next_at = now + backoff(row.attempts, error.retry_after)
            session.commit()
            log.warning("Telegram unavailable for a reply: %s", error.kind)
            return sent
        except Refused as error:
            row.attempts += 1
            row.error = error.kind
            row.next_at = now + backoff(row.attempts)
            if row.attempts >= REPLY_TRIES:
                session.delete(row)
            session.commit()
            held.add(row.chat)
            log.warning("Telegram refused a reply: %s", error.kind)
            continue
        session.delete(row)
        session.commit()
        sent += 1
    return sent


def answer_failure(session: Session, client: BotClient, update: Incoming) -> None:
    """After answering `update` failed: forget the chat's answers so far and say so.

    The conversation starts again rather than meet the same fault with the next message.
    Nothing here may fail in turn: the worker must move on to the next update.
    """
    if update.chat_id is None or not update.private:
        return
    lang = DEFAULT_LANGUAGE
    try:
        chat = session.get(TelegramChat, chat_key(update.chat_id))
        lang = chat_language(chat, update.language_code)
        if chat is not None:
            chat.state = None
            session.commit()
    except Exception as error:  # noqa: BLE001 - the apology below matters more
        session.rollback()
        log.error("Telegram chat could not be reset: %s", type(error).__name__)
    try:
        with in_language(lang):
            client.send_message(
                update.chat_id,
                escape(_("Something went wrong with that message. Send /new to start again.")),
            )
    except Exception as error:  # noqa: BLE001
        log.warning("Telegram apology not sent: %s", type(error).__name__)


class Conversation:
    """One chat's submission in progress; the answers live in `chat.state` as JSON."""

    def __init__(
        self, session: Session, client: BotClient, chat: TelegramChat, chat_id: int, lang: str
    ) -> None:
        self.session, self.client, self.chat, self.chat_id = session, client, chat, chat_id
        self.lang = lang
        self.state: dict[str, Any] = json.loads(chat.state) if chat.state else {}

    # -- talking ----------------------------------------------------------------------

    def say(self, text: str, buttons: list[list[tuple[str, str]]] | None = None) -> None:
        """Queue plain text (escaped here: nothing typed becomes markup). Buttons carry a
        new mark of this question (`state["q"]`): a button of any earlier message is
        refused (`take`), never taken as the answer to the current step."""
        if buttons:
            mark = secrets.token_hex(3)
            self.state["q"] = mark
            self.save()
            buttons = [[(label, f"{mark}|{data}") for label, data in row] for row in buttons]
        say(self.session, self.chat_id, escape(text), buttons or ())

    def save(self) -> None:
        """Keep the answers in the chat's row (committed by the caller)."""
        self.chat.state = json.dumps(self.state, ensure_ascii=False) if self.state else None

    def take(self, update: Incoming) -> None:
        """Answer one update of this chat: text, a button, or something the bot cannot read."""
        if update.kind == "button":
            mark, _sep, data = (update.text or "").partition("|")
            if data.startswith("lang:") or (mark and mark == self.state.get("q")):
                with suppress(Unavailable, Refused):  # cosmetic: the spinner stops
                    self.client.answer_button(update.callback_id)
                self.answer(data)
                return
            with suppress(Unavailable, Refused):
                self.client.answer_button(
                    update.callback_id,
                    _("This button belongs to an earlier message: answer the question below."),
                )
            self.repeat()
        elif update.kind == "text" and update.text is not None:
            self.answer(update.text.strip())
        elif update.kind == "edited":
            self.say(
                _(
                    "Changing a message you sent changes nothing here: send the corrected answer as a new message."
                )
            )
            self.repeat(help_too=False)
        else:  # photo, sticker, location, voice, document, contact, poll...
            self.say(
                _(
                    "This bot reads only text and its own buttons: photos, stickers, locations, voice messages and files are not read. Write your answer as text."
                )
            )
            self.repeat(help_too=False)

    def repeat(self, help_too: bool = True) -> None:
        """Ask the current question again (a conversation under way), or give the help."""
        if self.state.get("step"):
            self.ask()
        elif help_too:
            self.help()

    def help(self) -> None:
        self.say(
            _(
                "This bot sends rallies to the map of Belarus. Moderators check each one before it is shown. /new submits a rally, /language changes the language, /cancel stops."
            )
        )

    def expired(self, lost: list[str]) -> None:
        """Say that the conversation expired and which answers were deleted with it."""
        form = RallyForm(meta={"csrf": False}, formdata=None)
        names = ", ".join(str(getattr(form, name).label.text) for name in lost)
        self.say(
            _(
                "Your rally was not sent: the conversation ended an hour after it began, and your answers were deleted (%(answers)s).",
                answers=names or "—",
            )
            + " "
            + _("Send /new to start again.")
        )

    def answer(self, text: str) -> None:
        command = text.split()[0].split("@")[0].lower() if text.startswith("/") else ""
        if command == "/cancel":
            self.state = {}
            self.save()
            self.say(_("Stopped. Nothing was sent. Send /new to start again."))
        elif command == "/new":
            self.state = {"step": "title"}
            self.save()
            self.ask()
        elif command == "/language":
            self.say(
                _("Choose the language"),
                [[(LANGUAGE_NAMES[code], f"lang:{code}") for code in LANGUAGES]],
            )
        elif text.startswith("lang:") and text[5:] in LANGUAGES:
            self.chat.language = text[5:]
            with in_language(text[5:]):
                self.lang = text[5:]
                self.say(LANGUAGE_NAMES[text[5:]])
                if self.state.get("step"):
                    self.ask()
        elif command or not self.state.get("step"):
            self.help()
        else:
            getattr(self, f"take_{self.state['step']}")(text)

    def ask(self) -> None:
        """Ask the question of the current step."""
        step = self.state["step"]
        form = RallyForm(meta={"csrf": False}, formdata=None)
        if step in ("title", "place"):
            field = getattr(form, step)
            skip = [[(_("Skip"), "skip")]] if step == "place" else None
            self.say(f"{field.label.text}\n{field.description}", skip)
        elif step == "town":
            towns = [gazetteer().by_name(name) for name in BIG_TOWNS]
            buttons = [(t.name_in(self.lang), f"town:{t.geonameid}") for t in towns if t]
            self.say(
                f"{form.town.label.text}\n{form.town.description}",
                [buttons[i : i + 3] for i in range(0, len(buttons), 3)],
            )
        elif step == "when":
            example = (utcnow() + timedelta(days=7)).strftime("%d.%m.%Y") + " 18:00"
            self.say(
                _("Write the date and time, for example: %(example)s", example=example)
                + f"\n{form.time.description}"
            )
        elif step == "reveal":
            self.say(
                _("When should the exact place become public?"),
                [[(self.reveal_label(hours), f"reveal:{hours}")] for hours in REVEAL_HOURS],
            )
        elif step == "contact":
            self.say(
                f"{form.contact.label.text}\n{form.contact.description}", [[(_("Skip"), "skip")]]
            )
        elif step == "confirm":
            self.summary()

    def reveal_label(self, hours: int) -> str:
        return _("Now") if hours == 0 else _("%(hours)s h before the start", hours=hours)

    # -- the form ---------------------------------------------------------------------

    def form(self, **more: str) -> RallyForm:
        """The web form filled with the answers so far (and `more`), validated."""
        data = {
            name: self.state.get(name, "")
            for name in ("title", "town", "place", "date", "time", "contact")
        }
        data.update(more)
        data["geonameid"] = str(self.state.get("geonameid") or "")
        form = RallyForm(meta={"csrf": False}, formdata=MultiDict(data))
        form.validate()
        return form

    def errors_of(self, form: RallyForm, *names: str) -> list[str]:
        return [str(message) for name in names for message in getattr(form, name).errors]

    def next_step(self) -> None:
        step = STEPS[STEPS.index(self.state["step"]) + 1]
        if step == "contact" and not contacts.accepting():
            step = "confirm"  # no key to keep a contact safe: the web form has no field either
        self.state["step"] = step
        self.save()
        self.ask()

    def take_title(self, text: str) -> None:
        self.take_field("title", text)

    def take_place(self, text: str) -> None:
        self.take_field("place", "" if text == "skip" else text)

    def take_contact(self, text: str) -> None:
        self.take_field("contact", "" if text == "skip" else text)

    def take_field(self, name: str, text: str) -> None:
        errors = self.errors_of(self.form(**{name: text}), name)
        if errors:
            self.say("\n".join(errors))
            return
        self.state[name] = text
        self.next_step()

    def take_town(self, text: str) -> None:
        if text.startswith("town:") and number(text[5:]) is not None:
            place = gazetteer().by_id(number(text[5:]))
            if place is not None:
                self.state.update(town=place.name_in(self.lang), geonameid=place.geonameid)
                self.next_step()
                return
        errors = self.errors_of(self.form(town=text), "town")
        if errors:
            self.say("\n".join(errors))
            return
        match = gazetteer().geocode(text)
        if match is None:
            self.say(_("This town is not in our list: check the spelling."))
            return
        candidates = [match, *match.alternatives][:5]
        seen: dict[int, Any] = {}
        for candidate in candidates:
            seen.setdefault(candidate.place.geonameid, candidate.place)
        if len(seen) == 1 and match.confidence >= 0.9:
            self.state.update(town=text, geonameid=match.place.geonameid)
            self.next_step()
            return
        self.say(
            _("Choose the town"),
            [
                [(f"{place.name_in(self.lang)} ({place.region})", f"town:{geonameid}")]
                for geonameid, place in seen.items()
            ],
        )

    def take_when(self, text: str) -> None:
        parts = text.split()
        day, time = (parts + ["", ""])[:2] if len(parts) <= 2 else (text, "")
        found = _DATE.match(day)
        if found:  # 01.06.2027, as people write it here; the form reads ISO dates
            d, m, y = found.groups()
            day = f"{y}-{int(m):02d}-{int(d):02d}"
        time = time.replace(".", ":")
        errors = self.errors_of(self.form(date=day, time=time), "date", "time")
        if errors:
            self.say("\n".join(errors))
            return
        self.state.update(date=day, time=time)
        self.next_step()

    def take_reveal(self, text: str) -> None:
        value = number(text.removeprefix("reveal:"))
        if value not in REVEAL_HOURS:
            self.ask()
            return
        self.state["reveal"] = value
        self.next_step()

    def located(self, form: RallyForm) -> dict[str, Any] | None:
        return locate(form)

    def summary(self) -> None:
        form = self.form()
        wrong = [field.name for field in form if field.errors]
        found = self.located(form) if not wrong else None
        if found is None:
            # Back to the first answer that is wrong now (a date passed, a town not found).
            wrong = wrong or ["town"]
            self.say("\n".join(str(m) for name in wrong for m in getattr(form, name).errors))
            step = {"date": "when", "time": "when"}.get(wrong[0], wrong[0])
            self.state["step"] = step if step in STEPS else "title"
            self.save()
            self.ask()
            return
        starts_at = form.starts_at()
        hours = int(self.state.get("reveal", 0))
        lines = [
            _("Check the rally before sending it to moderators:"),
            f"{form.title.label.text}: {form.title.data}",
            f"{form.town.label.text}: {found.get('town') or form.town.data}",
            f"{form.place.label.text}: {form.place.data or '—'}",
            f"{form.date.label.text}: {local_datetime(starts_at, 'full', self.lang)}",
            f"{_('When should the exact place become public?')} {self.reveal_label(hours)}",
            *(
                [f"{form.contact.label.text}: {form.contact.data or '—'}"]
                if contacts.accepting()
                else []
            ),
            _("The place on the map: %(name)s", name=found.get("name") or found.get("town")),
        ]
        # The bot asks for no description, but the title is public before the place is: the
        # same warning as the web preview (rules.locating_hints), in the chat's language.
        hints = rules.locating_hints(None, form.place.data, form.title.data) if hours else []
        if hints:
            lines.append(
                _("The title or description may give the hidden place away.")
                + " "
                + _(
                    "The title is public at once, the place only at the time you chose. We"
                    " noticed: %(words)s. The check knows only some ways of saying where:"
                    " anything in the title that tells where you meet (a street or an address,"
                    " a building, a shop, a landmark, a link, coordinates) belongs in the place."
                    " Press “Start again” to change it.",
                    words=", ".join(f"«{hint}»" for hint in hints),
                )
            )
        say(self.session, self.chat_id, "", location=(found["lat"], found["lon"]))
        self.say(
            "\n".join(lines),
            [[(_("Send to moderators"), "confirm")], [(_("Start again"), "/new")]],
        )

    def take_confirm(self, text: str) -> None:
        if text != "confirm":
            self.ask()
            return
        if self.chat.submissions >= SUBMISSIONS_PER_HOUR:
            self.say(_("Too many rallies from this chat: try again in an hour."))
            return
        form = self.form()
        found = self.located(form) if not form.errors else None
        if found is None:
            self.summary()  # says what is wrong and starts again
            return
        fields = rally_fields(form, found["lat"], found["lon"], found.get("geonameid"))
        hours = int(self.state.get("reveal", 0))
        if hours:  # staged disclosure: the town only until then
            fields["reveal_at"] = fields["starts_at"] - timedelta(hours=hours)
        token = lifecycle.new_token()
        if lifecycle.queue_full(self.session):
            self.refuse_full(fields)
            return
        # The thanks with the manage link is queued first: `submit` commits it with the
        # rally (and the cleared answers), so the link is never lost, whatever Telegram does.
        self.chat.submissions += 1
        self.state = {}
        self.save()
        self.say(thanks(manage_link(token)))
        lifecycle.submit(self.session, fields, token=token)

    def refuse_full(self, fields: dict[str, Any]) -> None:
        """The moderators' queue is full: `submit` says so to moderators (once an hour) and
        the person may press again later, answers kept."""
        try:
            lifecycle.submit(self.session, fields)
        except lifecycle.QueueFull:
            self.say(
                _(
                    "Too many rallies are waiting for moderators right now. Press the button again in an hour: your answers are kept."
                ),
                [[(_("Send to moderators"), "confirm")]],
            )
            return


def approved_when() -> str:
    """When a new rally shows on the map: once as many moderators as MAPAPP_APPROVALS
    approve it (a known organizer's needs one fewer, but the bot cannot tell yet)."""
    approvals = int(current_app.config["APPROVALS"])
    if approvals > 1:
        return ngettext(
            "It will appear on the map once %(num)d moderator approves it.",
            "It will appear on the map once %(num)d moderators approve it.",
            approvals,
        )
    return _("It will appear on the map once a moderator approves it.")


def thanks(link: str) -> str:
    """The reply after "Send to moderators": the manage link and what it is for."""
    return "\n\n".join(
        [
            _("Thank you: the rally is sent to moderators"),
            approved_when(),
            _("Save this link now: it is shown only once.")
            + " "
            + _(
                "With it you can see the status, change the rally or cancel it. Anyone with the link can do the same, so keep it private."
            ),
            link,
        ]
    )


def manage_link(token: str) -> str:
    """The organizer's manage link, absolute from the site's declared address."""
    return url_for("submit.manage", token=token, _external=bool(base_url()))
