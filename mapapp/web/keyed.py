"""Keyed hashes of what must not be read back: client addresses, Telegram chat ids, log-in names.

Rate-limit counters (the database's rate_limit table, Redis), failed log-ins and the bot's
chats are found by ``keyed_hash(kind, value)``: HMAC-SHA256 with the *hash key*. The key is
never on the server's disk, so a seized disk (the database, its WAL, a backup, Redis's dump)
gives hashes that cannot be reversed by trying all 2^32 IPv4 addresses or every chat id:

- ``MAPAPP_HASH_KEY`` from the environment (a secrets store, a tmpfs file read by the unit),
  needed when several machines share the counters; else
- a random key made in memory when the process starts. ``gunicorn.conf.py`` makes it in the
  gunicorn master and hands it to the workers through their environment, so every worker of
  one server counts together; a restart starts every count afresh (and forgets the bot's
  conversations in progress, at most an hour old).

Not ``MAPAPP_SECRET_KEY``: it is often left in ``instance/secret_key`` on the same disk.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from flask import Flask, current_app

log = logging.getLogger(__name__)
EXTENSION = "mapapp.hash_key"


def init_app(app: Flask) -> None:
    raw = app.config.get("HASH_KEY")
    if raw:
        if len(str(raw)) < 32:
            raise RuntimeError("MAPAPP_HASH_KEY is too short: give at least 32 random characters")
        key = str(raw).encode()
    else:
        key = secrets.token_bytes(32)  # in this process's memory only
    app.extensions[EXTENSION] = key


def keyed_hash(kind: str, value: str, app: Flask | None = None) -> str:
    """HMAC-SHA256 of ``kind:value`` with the hash key (64 hex digits)."""
    key = (app or current_app).extensions[EXTENSION]
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
