"""What happens to a rally after it is submitted: tokens, status changes, the audit log.

Every change goes through here so that each one is written to the audit log and
bumps the rally's sequence (calendars use it to replace their copy).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mapapp.models import AuditEntry, Rally, Status, utcnow

ORGANIZER = "organizer"
# Fields an organizer may change; changing any of them sends the rally back to moderation,
# so nothing reaches the public map unseen.
EDITABLE = ("title", "description", "town", "place", "region", "geonameid", "lat", "lon",
            "starts_at", "ends_at", "contact")  # fmt: skip


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A manage token: 192 random bits, shown to the organizer once, stored only hashed."""
    return secrets.token_urlsafe(24)


def by_token(db: Session, token: str) -> Rally | None:
    if not token or len(token) > 100:
        return None
    return db.scalars(select(Rally).where(Rally.manage_token_hash == hash_token(token))).first()


def audit(db: Session, actor: str, action: str, rally: Rally | None, detail: str = "") -> None:
    db.add(
        AuditEntry(actor=actor, action=action, rally_id=rally.id if rally else None, detail=detail)
    )


def submit(db: Session, fields: dict[str, Any], token: str | None = None) -> tuple[Rally, str]:
    """Store a new rally as pending; returns it and its manage token (shown once).

    ``token``: the manage token to give it (the form's submission key), else a new one.
    :raise sqlalchemy.exc.IntegrityError: a rally already has that token.
    """
    token = token or new_token()
    rally = Rally(**fields, status=Status.PENDING.value, manage_token_hash=hash_token(token))
    db.add(rally)
    db.flush()
    audit(db, ORGANIZER, "submit", rally)
    db.commit()
    return rally, token


def set_status(
    db: Session, rally: Rally, status: Status, actor: str, reason: str | None = None
) -> None:
    rally.status = status.value
    rally.reject_reason = reason if status is Status.REJECTED else None
    rally.sequence = (rally.sequence or 0) + 1
    audit(
        db, actor, status.value if status is not Status.APPROVED else "approve", rally, reason or ""
    )
    db.commit()


def was_approved(db: Session, rally: Rally) -> bool:
    found = db.scalars(
        select(AuditEntry.id).where(AuditEntry.rally_id == rally.id, AuditEntry.action == "approve")
    ).first()
    return found is not None or rally.status == Status.APPROVED.value


def cancel_by_organizer(db: Session, rally: Rally) -> None:
    """Cancel: shown as cancelled if the public ever saw it; otherwise just withdrawn, so a
    cancelled rally never puts unmoderated text in front of the public."""
    if was_approved(db, rally):
        set_status(db, rally, Status.CANCELLED, ORGANIZER)
    else:
        set_status(db, rally, Status.REJECTED, ORGANIZER, "withdrawn by the organizer")


def edit(db: Session, rally: Rally, fields: dict[str, Any], actor: str) -> list[str]:
    """Apply changes; an organizer's change sends an approved rally back to moderation."""
    changed = [name for name in EDITABLE if name in fields and getattr(rally, name) != fields[name]]
    if not changed:
        return []
    for name in changed:
        setattr(rally, name, fields[name])
    rally.sequence = (rally.sequence or 0) + 1
    if actor == ORGANIZER and rally.status in (Status.APPROVED.value, Status.REJECTED.value):
        rally.status = Status.PENDING.value
    audit(db, actor, "edit", rally, ", ".join(c for c in changed if c != "contact"))
    db.commit()
    return changed


def purge_contacts(db: Session, days: int, now: datetime | None = None) -> int:
    """Forget organizers' contacts `days` after their rally ended; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    # A rally without an end is taken to last three hours.
    ended = select(Rally.id).where(
        Rally.contact.is_not(None),
        ((Rally.ends_at.is_not(None)) & (Rally.ends_at < cutoff))
        | ((Rally.ends_at.is_(None)) & (Rally.starts_at < cutoff - timedelta(hours=3))),
    )
    ids = list(db.scalars(ended))
    if ids:
        db.execute(update(Rally).where(Rally.id.in_(ids)).values(contact=None))
        for rally_id in ids:
            db.add(AuditEntry(actor="system", action="purge-contact", rally_id=rally_id, detail=""))
    db.commit()
    return len(ids)


def new_manage_link(db: Session, rally: Rally, actor: str) -> str:
    """Give the rally a new manage token (the old link stops working); returns it, to be
    shown once and passed on by hand."""
    token = new_token()
    rally.manage_token_hash = hash_token(token)
    audit(db, actor, "new-manage-link", rally)
    db.commit()
    return token


def purge_rejected(db: Session, days: int, now: datetime | None = None) -> int:
    """Delete the texts of rallies rejected or withdrawn more than `days` ago; returns how many.

    What stays: the row (the audit log refers to it), its town, region and times.
    """
    cutoff = (now or utcnow()) - timedelta(days=days)
    stale = select(Rally.id).where(
        Rally.status.in_((Status.REJECTED.value, "withdrawn")),
        Rally.updated_at < cutoff,
        (Rally.title != "") | (Rally.contact.is_not(None)),
    )
    ids = list(db.scalars(stale))
    if ids:
        db.execute(
            update(Rally)
            .where(Rally.id.in_(ids))
            .values(title="", description="", place="", contact=None, reject_reason=None)
        )
        db.execute(update(AuditEntry).where(AuditEntry.rally_id.in_(ids)).values(detail=""))
        for rally_id in ids:
            db.add(AuditEntry(actor="system", action="purge-texts", rally_id=rally_id, detail=""))
    db.commit()
    return len(ids)
