"""Telegram's Bot API for the app: the one module that imports python-telegram-bot.

python-telegram-bot (PTB) is asyncio through and through; the worker is a plain
synchronous loop over the database (as the rest of the app). So `BotClient` keeps one
event loop of its own and runs each Bot API call to completion on it: PTB's `Bot`, its
types (keyboards, reply parameters, `Update`) and its error classes are used as they
are, without its `Application` (its own polling loop, handlers and in-memory state would
fight the outbox and the one-hour conversation table).

Like `geocode.py`: reads `current_app.config`, and when no token is configured nothing
here is ever called (`configured()` is false, the outbox stays empty). Errors come out as
this module's `Unavailable` (try again later, perhaps after `retry_after` seconds) and
`Refused` (Telegram said no: retrying will not help). Nothing is logged but error types:
PTB logs request parameters (message text) at DEBUG and httpx logs URLs (with the token)
at INFO, so both are silenced here.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
TIMEOUT = 10.0  # seconds for one Bot API call (a long poll adds its own wait)
# A broken or hostile Bot API (a proxy in between, a wrong TELEGRAM_API_URL) must not hang the
# worker, fill its memory or stop deliveries: every call ends within CALL_SECONDS (plus the long
# poll) whatever trickles in, an answer over MAX_ANSWER_BYTES is cut off, and a retry_after is
# taken between 1 s and MAX_RETRY_AFTER.
CALL_SECONDS = 3 * TIMEOUT
MAX_ANSWER_BYTES = 4 * 2**20  # getUpdates gives at most 100 updates: well under this
MAX_RETRY_AFTER = 3600.0


def _limited_transport() -> Any:  # noqa: ANN401 - an httpx transport
    import httpx

    class Limited(httpx.AsyncByteStream):
        def __init__(self, stream: Any) -> None:  # noqa: ANN401
            self.stream = stream

        async def __aiter__(self):  # noqa: ANN204
            seen = 0
            async for chunk in self.stream:
                seen += len(chunk)
                if seen > MAX_ANSWER_BYTES:
                    raise httpx.ReadError("answer too large")
                yield chunk

        async def aclose(self) -> None:
            await self.stream.aclose()

    class LimitedTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await super().handle_async_request(request)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_ANSWER_BYTES:
                await response.aclose()
                raise httpx.ReadError("answer too large")
            return httpx.Response(
                status_code=response.status_code,
                headers=response.headers,
                stream=Limited(response.stream),
                extensions=response.extensions,
            )

    return LimitedTransport()


def bounded_retry_after(value: Any) -> float:  # noqa: ANN401
    """Telegram's retry_after in seconds, between 1 and MAX_RETRY_AFTER whatever it said."""
    try:
        seconds = float(value.total_seconds() if hasattr(value, "total_seconds") else value)
    except (TypeError, ValueError, OverflowError):
        return MAX_RETRY_AFTER
    if seconds != seconds:  # NaN
        return MAX_RETRY_AFTER
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


class Unavailable(Exception):  # noqa: N818 - reads as "Telegram is unavailable"
    """Telegram could not be reached, was busy (429) or failed (5xx): try again later."""

    def __init__(self, kind: str, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after


class Refused(Exception):  # noqa: N818
    """Telegram refused the call (400, 403): retrying the same call will not help.

    `gone` is true when the message to edit or delete no longer exists ("message to edit
    not found", "message to delete not found", "MESSAGE_ID_INVALID"); `stuck` when it exists
    but can no longer be changed ("message can't be deleted" after 48 hours, "message can't
    be edited"): the caller must then say what happened some other way, never count it done.
    """

    def __init__(self, kind: str, gone: bool = False, stuck: bool = False) -> None:
        super().__init__(kind)
        self.kind = kind
        self.gone = gone
        self.stuck = stuck


# Telegram's descriptions (400 Bad Request) of a message that is not there any more, and of
# one that is there but can no longer be edited or deleted.
GONE = ("message to edit not found", "message to delete not found", "message_id_invalid")
STUCK = ("message can't be deleted", "message can't be edited")


# What a message holds, when it is not text (the first of these keys it has), in the
# order Telegram's Message documents them.
MESSAGE_KINDS = (
    "photo", "sticker", "location", "venue", "voice", "video_note", "video", "audio",
    "animation", "document", "contact", "poll", "dice",
)  # fmt: skip


@dataclass(frozen=True)
class Incoming:
    """One update from a private chat, reduced to what the bot uses.

    `kind`: "text", "button", "edited" (an edited message), "channel_post", one of
    MESSAGE_KINDS, or "other" (a message with none of these: a service message, a game...).
    """

    update_id: int
    chat_id: int | None
    private: bool
    text: str | None  # a message's text, or a button's data
    language_code: str | None
    callback_id: str | None = None  # set when a button was pressed
    kind: str = "text"


Button = tuple[str, str]  # (label, data sent back when pressed)


def configured(app: Flask | None = None) -> bool:
    app = app or current_app
    return bool(app.config.get("TELEGRAM_BOT_TOKEN"))


def init_app(app: Flask) -> None:
    # httpx logs each request URL, which holds the bot token; PTB logs parameters (texts).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.WARNING)
    if app.config.get("TELEGRAM_LANGUAGE") not in ("be", "ru", "en"):
        raise ValueError("MAPAPP_TELEGRAM_LANGUAGE must be be, ru or en")
    channels(app.config.get("TELEGRAM_CHANNEL"))  # a malformed setting fails at start


def channels(setting: str | None) -> dict[str, str]:
    """Parse TELEGRAM_CHANNEL into {region or "*": chat}.

    "@name" or "-100123" is one channel for every rally; "BY-HR=@a BY-BR=@b" one per
    region (ISO 3166-2), with "*=@all" for the others. Raises ValueError on junk.
    """
    if not setting or not setting.strip():
        return {}
    found: dict[str, str] = {}
    for part in setting.split():
        region, sep, chat = part.partition("=")
        if not sep:
            region, chat = "*", part
        if not chat or not (chat.startswith("@") or chat.lstrip("-").isdigit()):
            raise ValueError("MAPAPP_TELEGRAM_CHANNEL: give @name or a numeric chat id")
        if region != "*" and not (region.startswith("BY-") and len(region) == 5):
            raise ValueError("MAPAPP_TELEGRAM_CHANNEL: regions are written BY-HR, BY-BR...")
        found[region] = chat
    return found


def channel_for(region: str) -> str | None:
    """The channel that carries a rally of `region`, or None (not configured, or no channel)."""
    found = channels(current_app.config.get("TELEGRAM_CHANNEL"))
    return found.get(region) or found.get("*")


class BotClient:
    """Synchronous calls to the Bot API through PTB's `Bot`, on a private event loop."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, poll_seconds: int = 0) -> None:
        from telegram import Bot
        from telegram.request import HTTPXRequest

        self._loop = asyncio.new_event_loop()
        self._poll_seconds = poll_seconds
        self._requests = (
            HTTPXRequest(
                connect_timeout=TIMEOUT,
                read_timeout=TIMEOUT,
                write_timeout=TIMEOUT,
                httpx_kwargs={"transport": _limited_transport()},
            ),
            HTTPXRequest(
                connect_timeout=TIMEOUT,
                read_timeout=TIMEOUT + poll_seconds,
                write_timeout=TIMEOUT,
                httpx_kwargs={"transport": _limited_transport()},
            ),
        )
        self._bot = Bot(
            token,
            base_url=api_url.rstrip("/") + "/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )

    @classmethod
    def from_config(cls, poll_seconds: int = 0) -> BotClient:
        config = current_app.config
        return cls(
            config["TELEGRAM_BOT_TOKEN"],
            config.get("TELEGRAM_API_URL") or DEFAULT_API_URL,
            poll_seconds,
        )

    def close(self) -> None:
        for request in self._requests:
            self._loop.run_until_complete(request.shutdown())
        self._loop.close()

    def __enter__(self) -> BotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, call: Any, quiet: bool = False) -> Any:  # noqa: ANN401 - what the method returns
        from telegram.error import (
            BadRequest,
            ChatMigrated,
            Forbidden,
            InvalidToken,
            NetworkError,
            RetryAfter,
            TelegramError,
        )
        from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

        try:
            # PTB 22 warns (even inside its own RetryAfter message) that retry_after becomes
            # a timedelta in 23; the value is read as either below.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                if quiet:
                    warnings.simplefilter("ignore", PTBUserWarning)
                deadline = CALL_SECONDS + self._poll_seconds
                return self._loop.run_until_complete(asyncio.wait_for(call, deadline))
        except TimeoutError:
            raise Unavailable("Deadline") from None
        except RetryAfter as error:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                retry_after = error.retry_after
            raise Unavailable("RetryAfter", bounded_retry_after(retry_after)) from None
        except BadRequest as error:  # 400: the message may be gone, or unchanged
            text = str(error).lower()
            if "not modified" in text:
                return None  # the same text again: the edit is already done
            gone = any(words in text for words in GONE)
            stuck = any(words in text for words in STUCK)
            raise Refused(type(error).__name__, gone=gone, stuck=stuck) from None
        except (Forbidden, InvalidToken, ChatMigrated) as error:
            raise Refused(type(error).__name__) from None
        except NetworkError as error:  # timeouts, refused connections, 5xx
            raise Unavailable(type(error).__name__) from None
        except TelegramError as error:
            raise Unavailable(type(error).__name__) from None
        except OverflowError:  # a number too large to read: PTB's own retry_after of 10^15
            raise Unavailable("RetryAfter", MAX_RETRY_AFTER) from None
        except Exception as error:  # noqa: BLE001 - an answer PTB could not even read
            raise Unavailable(type(error).__name__) from None

    # -- the channel -------------------------------------------------------------------

    def send_message(
        self,
        chat_id: int | str,
        text: str,
        reply_to: int | None = None,
        buttons: Sequence[Sequence[Button]] = (),
        link_buttons: Sequence[Button] = (),
    ) -> int:
        """Send an HTML message; returns its message id. Text must be escaped already."""
        from telegram import (
            InlineKeyboardButton,
            InlineKeyboardMarkup,
            LinkPreviewOptions,
            ReplyParameters,
        )

        rows = [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                for row in buttons]  # fmt: skip
        rows += [[InlineKeyboardButton(label, url=url)] for label, url in link_buttons]
        message = self._run(
            self._bot.send_message(
                chat_id,
                text,
                parse_mode="HTML",
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to
                    else None
                ),
                reply_markup=InlineKeyboardMarkup(rows) if rows else None,
            )
        )
        return int(message.message_id)

    def edit_message(self, chat_id: int | str, message_id: int, text: str) -> None:
        """Replace a message's HTML text; the same text again is not an error."""
        from telegram import LinkPreviewOptions

        self._run(
            self._bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode="HTML",
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )

    def delete_message(self, chat_id: int | str, message_id: int) -> None:
        self._run(self._bot.delete_message(chat_id, message_id))

    # -- the bot's private chats -------------------------------------------------------

    def send_location(self, chat_id: int, lat: float, lon: float) -> None:
        self._run(self._bot.send_location(chat_id, latitude=lat, longitude=lon))

    def answer_button(self, callback_id: str, text: str | None = None) -> None:
        """Stop a pressed button's spinner; `text` (plain, at most 200 characters) is shown
        to the person as a notice."""
        self._run(self._bot.answer_callback_query(callback_id, text=text[:200] if text else None))

    def pin_message(self, chat_id: int | str, message_id: int) -> None:
        """Pin a message in a chat (the bot needs the right to pin there)."""
        self._run(self._bot.pin_chat_message(chat_id, message_id, disable_notification=True))

    def get_updates(self, offset: int | None, poll_seconds: int = 0) -> list[Incoming]:
        """The next updates after `offset` (long polling for up to `poll_seconds`).

        Read as raw JSON and reduced one by one: an update the bot cannot read becomes an
        empty `Incoming` with its id (skipped, the offset moves past it) instead of failing
        the whole batch again and again.
        """
        from telegram import Update

        raw = self._run(
            self._bot.do_api_request(
                "getUpdates",
                api_kwargs={
                    "offset": offset,
                    "timeout": poll_seconds,
                    "allowed_updates": ["message", "edited_message", "callback_query"],
                },
            ),
            quiet=True,  # PTB would rather we called get_updates, which parses the batch whole
        )
        if not isinstance(raw, list):
            raise Unavailable("MalformedUpdates")
        found = []
        for item in raw:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if type(update_id) is not int:
                continue  # without an id there is nothing to move past
            try:
                found.append(incoming(Update.de_json(item, self._bot)))
            except Exception as error:  # noqa: BLE001 - whatever the sender put in it
                log.warning("Telegram update the bot cannot read: %s", type(error).__name__)
                found.append(raw_incoming(item))
        return found


def raw_incoming(item: dict[str, Any]) -> Incoming:
    """An update PTB could not read (a field of a newer Bot API, or junk): still answered
    ("send text") when it is plainly a message from a private chat, else skipped."""
    update_id = item["update_id"]
    message = item.get("message") or item.get("edited_message")
    chat = message.get("chat") if isinstance(message, dict) else None
    sender = message.get("from") if isinstance(message, dict) else None
    if (
        not isinstance(chat, dict)
        or type(chat.get("id")) is not int
        or chat.get("type") != "private"
    ):
        return Incoming(update_id, None, False, None, None, kind="other")
    code = sender.get("language_code") if isinstance(sender, dict) else None
    kind = "edited" if "message" not in item else "other"
    return Incoming(
        update_id, chat["id"], True, None, code if isinstance(code, str) else None, kind=kind
    )


def incoming(update: Any) -> Incoming:  # noqa: ANN401 - a telegram.Update
    """Reduce a PTB `Update` to what the bot reads."""
    query = update.callback_query
    if query is not None:
        message = query.message
        chat = message.chat if message is not None else None
        return Incoming(
            update.update_id,
            chat.id if chat else None,
            bool(chat and chat.type == "private"),
            query.data,
            query.from_user.language_code if query.from_user else None,
            callback_id=query.id,
            kind="button",
        )
    if update.channel_post is not None or update.edited_channel_post is not None:
        return Incoming(update.update_id, None, False, None, None, kind="channel_post")
    message, kind = update.message, None
    if message is None and update.edited_message is not None:
        message, kind = update.edited_message, "edited"
    if message is None or message.chat is None:
        return Incoming(update.update_id, None, False, None, None, kind="other")
    if kind is None:
        if message.text is not None:
            kind = "text"
        else:
            kind = next((k for k in MESSAGE_KINDS if getattr(message, k, None)), "other")
    return Incoming(
        update.update_id,
        message.chat.id,
        message.chat.type == "private",
        message.text if kind == "text" else None,
        message.from_user.language_code if message.from_user else None,
        kind=kind,
    )
