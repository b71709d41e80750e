"""Moderators' accounts: the secret key, revocable sessions, safe redirects, log-in limits.

- The secret key signs sessions and CSRF tokens. Outside development, without
  MAPAPP_SECRET_KEY, one is made once into ``instance/secret_key`` (mode 0600): every
  gunicorn worker, and every restart, then signs with the same key.
- A session carries its moderator's *session epoch*; logging out or setting a new
  password (``create-moderator`` again) raises the epoch, which ends every copy of
  every cookie of that moderator at once.
- ``next=`` after logging in may only name a moderation page of this site, checked
  after the URL is normalised the way browsers do it.
- Failed log-ins are counted in the database (shared by all workers, with or without
  Redis) per address and per account. A browser a moderator has logged in with
  before (a signed "known device" cookie) is counted on its own, so someone guessing
  from elsewhere, or from the same address, does not lock the real moderator out.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse as parse_limit
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mapapp.domain.models import LoginFailure, Moderator, utcnow
from mapapp.web.keyed import keyed_hash
from mapapp.web.limits import client_address

# -- the secret key -------------------------------------------------------------------


class SecretKeyError(RuntimeError):
    """The secret key file is unusable (readable by others, empty)."""


def load_or_create_secret(path: Path) -> str:
    """The secret in ``path``, made there first (mode 0600) if it is not there yet.

    Safe when several processes start at once: each writes its own temporary file and
    links it into place; the link fails for all but one, and everyone reads the winner.
    :raise SecretKeyError: the file is readable by group or others, or empty.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, secrets.token_hex(32).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)  # atomic, and never replaces another process's key
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"{path} can be read by other users: chmod 600 it (it signs moderators' sessions)"
        )
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise SecretKeyError(f"{path} holds no usable key: delete it to have a new one made")
    return secret


# -- redirects after logging in ---------------------------------------------------------

# What browsers drop from a URL before reading it: tabs and line breaks anywhere, C0
# controls and spaces at both ends; and they read a backslash as a slash.
_STRIPPED_ANYWHERE = re.compile(r"[\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def safe_next(raw: str | None) -> str | None:
    """A moderation path of this site from a ``next`` value, or None.

    The value is normalised as a browser would (so ``/%09/evil.example`` is seen as
    ``//evil.example``), then must be a path (no scheme, no host) under ``/moderate``.
    The query and fragment are dropped. The result has no path prefix: the caller puts
    ``request.script_root`` in front.
    """
    if not raw or len(raw) > 2000:
        return None
    value = _STRIPPED_ANYWHERE.sub("", raw).strip(_C0_AND_SPACE)
    value = value.replace("\\", "/")
    if _CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    path = parts.path
    if parts.scheme or parts.netloc or path.startswith("//"):
        return None
    if path != "/moderate" and not path.startswith("/moderate/"):
        return None
    if any(segment.lower().replace("%2e", ".") in (".", "..") for segment in path.split("/")):
        return None  # "/moderate/../x" leaves the moderation pages
    return path


# -- counting failed log-ins ----------------------------------------------------------


def _key(kind: str, value: str) -> str:
    """A keyed hash: the table holds no name or address anyone could read back.

    Keyed with the hash key (mapapp.web.keyed), which is not on the server's disk: not the
    secret key, which may be (instance/secret_key).
    """
    return keyed_hash(f"login-{kind}", value)


KNOWN_DEVICE_COOKIE = "mapapp_known_device"
KNOWN_DEVICE_DAYS = 180


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def known_device(moderator: Moderator | None) -> str | None:
    """The id of this browser if it logged in as ``moderator`` before, else None."""
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw or moderator is None:
        return None
    try:
        found = _device_serializer().loads(raw, max_age=KNOWN_DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(found, dict) or found.get("moderator") != moderator.id:
        return None
    return str(found.get("device"))


def remember_device(response: Response, moderator: Moderator, device: str | None) -> None:
    """Mark this browser as one ``moderator`` logs in with (after a correct password)."""
    value = _device_serializer().dumps(
        {"moderator": moderator.id, "device": device or secrets.token_urlsafe(16)}
    )
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        value,
        max_age=KNOWN_DEVICE_DAYS * 86400,
        path=f"{request.script_root}/moderate/login",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Strict",
    )


def failure_keys(name: str, moderator: Moderator | None) -> list[tuple[str, str]]:
    """(key, limit setting) pairs a failed log-in with this name counts against."""
    device = known_device(moderator)
    if device is not None:
        # A browser this moderator used before: its own count, so nobody else's guesses
        # (from this address or any other) lock it out.
        return [(_key("device", device), "LOGIN_LIMIT")]
    return [
        (_key("address", client_address()), "LOGIN_LIMIT"),
        (_key("account", name.casefold()), "LOGIN_ACCOUNT_LIMIT"),
    ]


def login_refused(db: Session, name: str, moderator: Moderator | None) -> bool:
    """True while this address, account or device has had too many failed log-ins."""
    now = utcnow()
    for key, setting in failure_keys(name, moderator):
        limit = parse_limit(current_app.config[setting])
        since = now - timedelta(seconds=limit.get_expiry())
        count = db.scalar(
            select(func.count(LoginFailure.id)).where(
                LoginFailure.key == key, LoginFailure.at > since
            )
        )
        if count >= limit.amount:
            return True
    return False


def record_failure(db: Session, name: str, moderator: Moderator | None) -> None:
    """Count one failed log-in (and forget failures older than the longest window)."""
    now = utcnow()
    longest = max(
        parse_limit(current_app.config[s]).get_expiry()
        for s in ("LOGIN_LIMIT", "LOGIN_ACCOUNT_LIMIT")
    )
    db.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(seconds=longest)))
    for key, _setting in failure_keys(name, moderator):
        db.add(LoginFailure(key=key, at=now))
    db.commit()


def end_sessions(moderator: Moderator) -> None:
    """End every session of this moderator, on every device (the caller commits)."""
    moderator.session_epoch = (moderator.session_epoch or 0) + 1
