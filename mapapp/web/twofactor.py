"""Moderators' second factor: TOTP (RFC 6238, through ``pyotp``) and one-time recovery codes.

- The TOTP secret is kept in ``Moderator.totp_secret``, encrypted with MAPAPP_CONTACT_KEY
  like the organizers' contacts (mapapp.domain.contacts): a copy of the database alone does
  not give it. A seized server that runs with the key does.
- A code is accepted for its 30-second step, the one before or the one after (clocks of
  phones drift); the step of the last accepted code is kept, and a code of that step or an
  earlier one is refused: a code seen over a shoulder or in a proxy's log cannot be used
  again (a single UPDATE makes two requests with one code race to one winner).
- Recovery codes: ten, 80 random bits each, shown once, stored only as SHA-256; each one
  works once.
- Wrong codes are counted in the failed log-in table by a keyed hash of the account
  (MAPAPP_SECOND_FACTOR_LIMIT): six digits cannot be guessed by trying.
- MAPAPP_SECOND_FACTOR: required (production) or optional (unset with MAPAPP_DEVELOPMENT).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

import pyotp
from flask import current_app
from limits import parse as parse_limit
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mapapp.domain.models import LoginFailure, Moderator, RecoveryCode, utcnow
from mapapp.web.keyed import keyed_hash

ISSUER = "Rally map"
RECOVERY_CODES = 10
STEP_SECONDS = 30


def required() -> bool:
    """Whether every moderator must use a second factor (MAPAPP_SECOND_FACTOR)."""
    return bool(current_app.config["SECOND_FACTOR"])


def parse_setting(raw: object, development: bool) -> bool:
    """MAPAPP_SECOND_FACTOR -> required or not: unset means required unless in development.

    :raise ValueError: anything but required/optional (or 1/0, true/false).
    """
    if raw is None or raw == "":
        return not development
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("required", "1", "true", "yes", "on"):
        return True
    if text in ("optional", "0", "false", "no", "off"):
        return False
    raise ValueError("MAPAPP_SECOND_FACTOR must be 'required' or 'optional'")


def new_secret() -> str:
    """A new TOTP secret: 160 random bits in base32 (32 characters)."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, name: str) -> str:
    """The otpauth:// URI authenticator apps read (also typed by hand as the secret)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into a phone."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The 30-second step (the one before, now, or after) whose code is `code`, else None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def check_code(db: Session, moderator: Moderator, code: str, now: float | None = None) -> bool:
    """Whether `code` is the moderator's TOTP code and was not used before; records its step.

    Works during enrolment too (the secret is set, not yet enabled). Commits on success.
    """
    secret = moderator.totp_secret
    if not secret:
        return False
    step = _matching_step(secret, code, now)
    if step is None:
        return False
    done = db.execute(
        update(Moderator)
        .where(Moderator.id == moderator.id, Moderator.totp_last_step < step)
        .values(totp_last_step=step)
    )
    db.commit()
    db.refresh(moderator)
    return done.rowcount == 1


def _code_hash(code: str) -> str:
    return hashlib.sha256("".join(code.lower().replace("-", "").split()).encode()).hexdigest()


def new_recovery_codes(db: Session, moderator: Moderator) -> list[str]:
    """Ten new one-time recovery codes (the old ones stop working); returned to be shown
    once, stored only hashed. Commits."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.moderator_id == moderator.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(10)  # 80 bits
        codes.append("-".join(raw[i : i + 5] for i in range(0, 20, 5)))
        db.add(RecoveryCode(moderator_id=moderator.id, code_hash=_code_hash(raw)))
    db.commit()
    return codes


def use_recovery_code(db: Session, moderator: Moderator, code: str) -> bool:
    """Whether `code` is one of the moderator's unused recovery codes; it is used up now."""
    if not code or len(code) > 60:
        return False
    done = db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.moderator_id == moderator.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    db.commit()
    return done.rowcount == 1


def recovery_codes_left(db: Session, moderator: Moderator) -> int:
    return int(
        db.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.moderator_id == moderator.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def _failure_key(moderator: Moderator) -> str:
    return keyed_hash("login-code", str(moderator.id))


def code_refused(db: Session, moderator: Moderator) -> bool:
    """True while this account has had MAPAPP_SECOND_FACTOR_LIMIT wrong codes."""
    limit = parse_limit(current_app.config["SECOND_FACTOR_LIMIT"])
    since = utcnow() - timedelta(seconds=limit.get_expiry())
    count = db.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.key == _failure_key(moderator), LoginFailure.at > since
        )
    )
    return int(count or 0) >= limit.amount


def record_code_failure(db: Session, moderator: Moderator) -> None:
    """Count one wrong code (by a keyed hash of the account, never its name)."""
    db.add(LoginFailure(key=_failure_key(moderator), at=utcnow()))
    db.commit()


def reset(db: Session, moderator: Moderator) -> None:
    """Forget the moderator's second factor and recovery codes, and end their sessions: they
    enrol again at their next log-in. Commits."""
    moderator.totp_secret = None
    moderator.totp_enabled = False
    moderator.totp_last_step = 0
    moderator.session_epoch = (moderator.session_epoch or 0) + 1
    db.execute(delete(RecoveryCode).where(RecoveryCode.moderator_id == moderator.id))
    db.commit()
