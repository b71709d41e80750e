"""Organizers' contacts, encrypted at rest with a key that is not in the database.

``MAPAPP_CONTACT_KEY`` holds one or more Fernet keys (AES-128-CBC with HMAC-SHA256, from
``cryptography``), separated by spaces: the first encrypts, all decrypt (MultiFernet), so
a key can be rotated: put the new one first, run ``flask rotate-contact-key``, then drop
the old one. ``Rally.contact`` is an :class:`EncryptedContact` column: code reads and
writes plain text, the database holds ``fernet:<token>``. A database file or a backup
alone reveals no contact.

Without a key the app does not take contacts: the forms say so and have no contact field,
and the column refuses clear text (:class:`ContactKeyMissing`). In development without a
key, create_app makes one, kept in instance/contact_key; only tests may store clear text.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app, has_app_context
from sqlalchemy import Text, TypeDecorator, text
from sqlalchemy.engine import Connection

PREFIX = "fernet:"
UNREADABLE = "(encrypted with a key this server does not have)"


class ContactKeyMissing(RuntimeError):
    """A contact was to be stored, but no MAPAPP_CONTACT_KEY is set (outside development)."""


def parse_keys(raw: str | None) -> MultiFernet | None:
    """MAPAPP_CONTACT_KEY -> a MultiFernet, or None when unset.

    :raise ValueError: a key is not a Fernet key (32 bytes, URL-safe base64).
    """
    keys = (raw or "").replace(",", " ").split()
    if not keys:
        return None
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ValueError(
            "MAPAPP_CONTACT_KEY: each key must be a Fernet key (flask --app mapapp "
            "new-contact-key makes one)"
        ) from None


def init_app(app: Flask) -> None:
    app.extensions["mapapp.contact_key"] = parse_keys(app.config["CONTACT_KEY"])


def cipher() -> MultiFernet | None:
    return current_app.extensions.get("mapapp.contact_key") if has_app_context() else None


def clear_text_allowed() -> bool:
    return has_app_context() and bool(current_app.config.get("TESTING"))


def accepting() -> bool:
    """Whether forms may take a contact: with a key (in development, one is made)."""
    return cipher() is not None or clear_text_allowed()


def encrypt(contact: str) -> str:
    """Plain contact -> what the database keeps.

    :raise ContactKeyMissing: no key, outside development.
    """
    found = cipher()
    if found is None:
        if clear_text_allowed():
            return contact
        raise ContactKeyMissing("no MAPAPP_CONTACT_KEY: contacts are not stored in clear")
    return PREFIX + found.encrypt(contact.encode()).decode("ascii")


def decrypt(stored: str) -> str:
    """What the database keeps -> the contact (clear values from before encryption pass)."""
    if not stored.startswith(PREFIX):
        return stored
    found = cipher()
    if found is None:
        return UNREADABLE
    try:
        return found.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
    except InvalidToken:
        return UNREADABLE


class EncryptedContact(TypeDecorator):
    """A text column encrypted with MAPAPP_CONTACT_KEY (plain text in Python)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)


class SealedText(TypeDecorator):
    """Text encrypted with MAPAPP_CONTACT_KEY when one is set, clear otherwise.

    For short-lived working state that may hold a contact or an unrevealed place (a Telegram
    chat's answers so far): a copy of the database, or a backup, does not show them.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        found = cipher()
        if value is None or found is None:
            return value
        return PREFIX + found.encrypt(value.encode()).decode("ascii")

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)


def rotate(connection: Connection) -> int:
    """Re-encrypt every contact with the first key (and encrypt clear ones); returns how many.

    :raise ContactKeyMissing: no key configured.
    """
    found = cipher()
    if found is None:
        raise ContactKeyMissing("set MAPAPP_CONTACT_KEY first (the new key first, then the old)")
    rows = connection.execute(text("SELECT id, contact FROM rally WHERE contact IS NOT NULL"))
    count = 0
    for rally_id, stored in list(rows):
        if stored.startswith(PREFIX):
            token = found.rotate(stored[len(PREFIX) :].encode("ascii"))
        else:
            token = found.encrypt(stored.encode())
        connection.execute(
            text("UPDATE rally SET contact = :contact WHERE id = :id"),
            {"contact": PREFIX + token.decode("ascii"), "id": rally_id},
        )
        count += 1
    return count
