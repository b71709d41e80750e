"""What happens to a rally after it is submitted: its states, tokens, the audit log.

A rally's status moves only along TRANSITIONS, one table of (actor kind, action, from
state) -> to state; anything else is refused with `Refused`. Every change goes through
here, so that each one is written to the audit log and bumps the rally's sequence
(calendars use it to replace their copy).

Publication is by copy: `rally` is the working copy (with the private contact and an
organizer's unreviewed edit); `published_rally` holds the last version a moderator
approved, and is the only table public outputs read (through mapapp.publishing.public). A change the
public can see also bumps the one data version (mapapp.publishing.public.data_version) and sends
mapapp.domain.signals.public_change, both inside the transaction that makes it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mapapp.domain.models import (
    PUBLIC_STATUSES,
    PUBLISHED_FIELDS,
    AuditEntry,
    DataVersion,
    PublishedRally,
    Rally,
    Status,
    utcnow,
)
from mapapp.domain.signals import public_change

ORGANIZER = "organizer"
MODERATOR = "moderator"
SYSTEM = "system"
NEW = "new"  # the state "before": submit and import start from it

PENDING, APPROVED, CANCELLED = Status.PENDING.value, Status.APPROVED.value, Status.CANCELLED.value
DANGER, MOVED = Status.DANGER.value, Status.MOVED.value
REJECTED, WITHDRAWN = Status.REJECTED.value, Status.WITHDRAWN.value
LIVE = (APPROVED, DANGER, MOVED)  # public and not cancelled

# Every allowed change of state: (actor kind, action, from) -> to. Nothing else is allowed.
# Organizers never publish anything: their edit of a public rally waits (changes_pending)
# while the public keeps the approved version; their danger and cancel only warn or remove.
TRANSITIONS: dict[tuple[str, str, str], str] = {
    (ORGANIZER, "submit", NEW): PENDING,
    (SYSTEM, "import", NEW): PENDING,
    (SYSTEM, "import_approved", NEW): APPROVED,
    # An organizer's edit: back to moderation, or waiting beside the published version.
    (ORGANIZER, "edit", PENDING): PENDING,
    (ORGANIZER, "edit", REJECTED): PENDING,
    **{(ORGANIZER, "edit", state): state for state in LIVE},
    # When the exact place becomes public: no new text, so no moderation.
    **{(ORGANIZER, "reveal", state): state for state in (PENDING, REJECTED, *LIVE)},
    (ORGANIZER, "cancel", PENDING): WITHDRAWN,  # never public: it stays unseen
    (ORGANIZER, "cancel", REJECTED): WITHDRAWN,  # a taken-down rally never comes back
    **{(ORGANIZER, "cancel", state): CANCELLED for state in LIVE},
    (ORGANIZER, "danger", APPROVED): DANGER,
    (ORGANIZER, "danger", MOVED): DANGER,
    (MODERATOR, "approve", PENDING): APPROVED,
    (MODERATOR, "approve", REJECTED): APPROVED,
    # The organizer's waiting edit: published (moved if the place changed), or discarded.
    **{(MODERATOR, "approve_changes", state): state for state in LIVE},
    **{(MODERATOR, "approve_move", state): MOVED for state in LIVE},
    **{(MODERATOR, "reject_changes", state): state for state in LIVE},
    **{(MODERATOR, "reject", state): REJECTED for state in (PENDING, CANCELLED, *LIVE)},
    **{(MODERATOR, "cancel", state): CANCELLED for state in LIVE},
    (MODERATOR, "danger", APPROVED): DANGER,
    (MODERATOR, "danger", MOVED): DANGER,
    (MODERATOR, "clear_danger", DANGER): APPROVED,
    **{(MODERATOR, "move", state): MOVED for state in LIVE},
    (MODERATOR, "restore", CANCELLED): APPROVED,
    # A moderator's edit is reviewed text: a public rally's published version follows it.
    **{(MODERATOR, "edit", state): state for state in (PENDING, REJECTED, CANCELLED, *LIVE)},
    **{(MODERATOR, "reveal", state): state for state in (PENDING, REJECTED, CANCELLED, *LIVE)},
}

# What the public hears of a transition (mapapp.domain.signals.public_change `kind`).
SIGNAL_KINDS = {
    "import_approved": "published",
    "approve": "published",
    "approve_changes": "edited",
    "edit": "edited",
    "reveal": "edited",
    "approve_move": "moved",
    "move": "moved",
    "cancel": "cancelled",
    "danger": "danger",
    "clear_danger": "restored",
    "restore": "restored",
    "reject": "taken_down",
}

STATE_NAMES = {
    PENDING: _l("waiting for a moderator"),
    APPROVED: _l("on the map"),
    CANCELLED: _l("cancelled"),
    DANGER: _l("marked as dangerous"),
    MOVED: _l("moved to a new place"),
    REJECTED: _l("rejected by a moderator"),
    WITHDRAWN: _l("withdrawn by its organizer"),
}

# Fields an organizer may change; changing any but the contact waits for a moderator.
EDITABLE = ("title", "description", "town", "place", "region", "geonameid", "lat", "lon",
            "starts_at", "ends_at", "contact")  # fmt: skip
PLACE_FIELDS = ("town", "place", "lat", "lon")


def moves_in_public(rally: Rally, new_place: dict[str, Any], row: Any) -> bool:  # noqa: ANN401
    """Whether publishing `new_place` over the published `row` is a move the public can see.

    While the exact place is hidden (reveal_at ahead) the public sees only the town: a new
    place or pin inside it is no move to them (a "moved" warning would point at a place they
    cannot see, and tell watchers it changed); a new town still is.
    """
    hidden = rally.reveal_at is not None and rally.reveal_at > utcnow()
    names = ("town",) if hidden else PLACE_FIELDS
    return any(new_place[name] != getattr(row, name) for name in names)


class Refused(Exception):
    """A change the state table does not allow; `message` (lazy, translated) says why.

    Views answer it with 409 Conflict.
    """

    def __init__(self, message: Any) -> None:
        super().__init__(message)  # lazy: turned into text in the request's language
        self.message = message


def actor_kind(actor: str) -> str:
    """'moderator:NAME' -> moderator; organizer; anything else (import, seed) -> system."""
    kind = actor.split(":", 1)[0]
    return kind if kind in (ORGANIZER, MODERATOR) else SYSTEM


def allowed(actor: str, action: str, state: str) -> str | None:
    """The state `action` by `actor` leads to from `state`, or None if it is not allowed."""
    return TRANSITIONS.get((actor_kind(actor), action, state))


def transition(rally: Rally | None, actor: str, action: str) -> str:
    """The rally's next state for `action`; raises Refused when the table has no such row."""
    state = rally.status if rally is not None else NEW
    to = allowed(actor, action, state)
    if to is not None:
        return to
    if state == CANCELLED and action in ("cancel",):
        raise Refused(_l("This rally is already cancelled."))
    if state == CANCELLED and action in ("edit", "danger", "reveal"):
        raise Refused(_l("This rally is cancelled and can no longer be changed."))
    raise Refused(
        _l("This cannot be done now: the rally is %(state)s.", state=STATE_NAMES.get(state, state))
    )


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


def bump_version(db: Session) -> None:
    """Move the public data version, in the caller's transaction (one row, by key)."""
    done = db.execute(
        update(DataVersion).where(DataVersion.id == 1).values(version=DataVersion.version + 1)
    )
    if done.rowcount == 0:
        db.add(DataVersion(id=1, version=2))


def published(db: Session, rally: Rally) -> PublishedRally | None:
    return db.get(PublishedRally, rally.id)


def _publish(db: Session, rally: Rally, status: str) -> None:
    """Copy the working copy to the published version (a moderator has seen it)."""
    row = published(db, rally)
    if row is None:
        row = PublishedRally(id=rally.id)
        db.add(row)
    for name in PUBLISHED_FIELDS:
        setattr(row, name, getattr(rally, name))
    rally.changes_pending = False
    _restatus(row, rally, status)


def _restatus(row: PublishedRally, rally: Rally, status: str) -> None:
    row.status = status
    row.sequence = rally.sequence
    row.changes_pending = rally.changes_pending
    row.updated_at = utcnow()


def _discard_changes(rally: Rally, row: PublishedRally) -> None:
    """Back to the published version: an organizer's waiting edit is dropped."""
    for name in PUBLISHED_FIELDS:
        setattr(rally, name, getattr(row, name))
    rally.changes_pending = False


def _finish(
    db: Session, rally: Rally, actor: str, action: str, to: str, public: bool, detail: str = ""
) -> None:
    """Record the change; when the public sees it, move the data version and tell listeners."""
    rally.status = to
    audit(db, actor, action, rally, detail)
    if public:
        bump_version(db)
        db.flush()
        kind = SIGNAL_KINDS.get(action)
        if kind:
            public_change.send(
                current_app._get_current_object(), session=db, rally_id=rally.id, kind=kind
            )
    db.commit()


def submit(db: Session, fields: dict[str, Any], token: str | None = None) -> tuple[Rally, str]:
    """Store a new rally as pending; returns it and its manage token (shown once).

    ``token``: the manage token to give it (the form's submission key), else a new one.
    Nothing public changes, so the data version stays as it is.
    :raise sqlalchemy.exc.IntegrityError: a rally already has that token.
    """
    to = transition(None, ORGANIZER, "submit")
    token = token or new_token()
    rally = Rally(**fields, status=to, manage_token_hash=hash_token(token))
    db.add(rally)
    db.flush()
    _finish(db, rally, ORGANIZER, "submit", to, public=False)
    return rally, token


def create(
    db: Session,
    fields: dict[str, Any],
    approved: bool,
    actor: str = "import",
    commit: bool = True,
    detail: str = "",
    bump: bool = True,
) -> Rally:
    """A rally from an operator (import, seed, demo data): pending, or approved and public.

    With commit=False the caller commits (batches); with bump=False too, the caller moves
    the data version once for the batch (bump_version) before it commits.
    `detail` goes into the audit entry (an import's tag, to find its rallies again).
    """
    action = "import_approved" if approved else "import"
    to = transition(None, SYSTEM, action)
    rally = Rally(**{"sequence": 0, **fields}, status=to)
    db.add(rally)
    db.flush()
    if approved:
        row = PublishedRally(id=rally.id, status=to, sequence=rally.sequence, changes_pending=False)
        for name in PUBLISHED_FIELDS:
            setattr(row, name, getattr(rally, name))
        db.add(row)
    audit(db, actor, action, rally, detail)
    if approved:
        if bump:
            bump_version(db)
        db.flush()
        public_change.send(
            current_app._get_current_object(), session=db, rally_id=rally.id, kind="published"
        )
    if commit:
        db.commit()
    return rally


def publish_many(db: Session, rallies: list[Rally], actor: str) -> None:
    """An operator's bulk load of approved rallies (seed, demo data), in the caller's
    transaction: rows, their published copies, one audit entry each and one version bump.

    No public_change signal: this is installation data, not news for outside channels.
    """
    for rally in rallies:
        rally.status = transition(None, SYSTEM, "import_approved")
        rally.sequence = 0
    db.add_all(rallies)
    db.flush()
    for rally in rallies:
        row = PublishedRally(id=rally.id, status=rally.status, sequence=0, changes_pending=False)
        for name in PUBLISHED_FIELDS:
            setattr(row, name, getattr(rally, name))
        db.add(row)
        audit(db, actor, "import_approved", rally)
    bump_version(db)
    db.flush()


def approve(db: Session, rally: Rally, actor: str) -> str:
    """A moderator's "approve": publish a pending rally, or an organizer's waiting edit.

    An approved edit that changes the place marks a public rally `moved`. Returns the state.
    """
    if rally.status in LIVE and rally.changes_pending:
        row = published(db, rally)
        moved = row is not None and moves_in_public(
            rally, {name: getattr(rally, name) for name in PLACE_FIELDS}, row
        )
        return perform(db, rally, actor, "approve_move" if moved else "approve_changes")
    return perform(db, rally, actor, "approve")


def perform(db: Session, rally: Rally, actor: str, action: str, reason: str | None = None) -> str:
    """Do one status action of TRANSITIONS (not edit or reveal: see `edit`, `set_reveal`).

    Raises Refused when the table, or the rally (no waiting changes), does not allow it.
    Returns the new state.
    """
    to = transition(rally, actor, action)
    row = published(db, rally)
    if action in ("approve_changes", "approve_move", "reject_changes") and not (
        rally.changes_pending and row is not None
    ):
        raise Refused(_l("There are no changes waiting for a moderator."))
    rally.sequence = (rally.sequence or 0) + 1
    public = row is not None or to in PUBLIC_STATUSES
    if action in ("approve", "approve_changes", "approve_move"):
        _publish(db, rally, to)
    elif to in (REJECTED, WITHDRAWN):
        rally.reject_reason = reason if to == REJECTED else None
        rally.changes_pending = False
        if row is not None:
            db.delete(row)
    elif row is not None:
        if action == "reject_changes" or (to == CANCELLED and rally.changes_pending):
            # A cancel cancels the approved version; the waiting edit goes with it.
            _discard_changes(rally, row)
        _restatus(row, rally, to)
    _finish(db, rally, actor, action, to, public, reason or "")
    return to


def cancel_by_organizer(db: Session, rally: Rally) -> str:
    """The organizer's cancel: a public rally shows as cancelled (its approved version);
    one never approved is withdrawn and stays unseen. Returns the new state."""
    return perform(db, rally, ORGANIZER, "cancel")


def edit(db: Session, rally: Rally, fields: dict[str, Any], actor: str) -> list[str]:
    """Apply changes; returns the names of the fields that changed.

    An organizer's change (other than the contact) waits for a moderator: a pending or
    rejected rally goes (back) to pending; a public one keeps its published version and is
    marked `changes_pending`. A moderator's change is reviewed: a public rally's published
    version follows it, and a new place on a live rally marks it `moved`.
    """
    changed = [name for name in EDITABLE if name in fields and getattr(rally, name) != fields[name]]
    if not changed:
        return []
    kind = actor_kind(actor)
    row = published(db, rally)
    action = "edit"
    if kind == MODERATOR and rally.status in LIVE and row is not None:
        new_place = {name: fields.get(name, getattr(rally, name)) for name in PLACE_FIELDS}
        if moves_in_public(rally, new_place, row):
            action = "move"
    to = transition(rally, actor, action)
    for name in changed:
        setattr(rally, name, fields[name])
    detail = ", ".join(c for c in changed if c != "contact")
    if not detail:  # only the contact: private, nothing to review
        db.commit()
        return changed
    rally.sequence = (rally.sequence or 0) + 1
    public = False
    if kind == MODERATOR and row is not None:
        _publish(db, rally, to)
        public = True
    elif row is not None:
        public = not row.changes_pending  # the "changes pending" note appears
        rally.changes_pending = True
        row.changes_pending = True
    _finish(db, rally, actor, action, to, public, detail)
    return changed


def set_reveal(db: Session, rally: Rally, reveal_at: datetime | None, actor: str) -> bool:
    """When the exact place becomes public (None: now). It adds no text, so an organizer's
    choice applies at once, to the published version too. Returns whether it changed."""
    if rally.reveal_at == reveal_at:
        return False
    to = transition(rally, actor, "reveal")
    rally.reveal_at = reveal_at
    row = published(db, rally)
    rally.sequence = (rally.sequence or 0) + 1
    if row is not None:
        row.reveal_at = reveal_at
        _restatus(row, rally, row.status)
    detail = reveal_at.isoformat() if reveal_at else "now"
    _finish(db, rally, actor, "reveal", to, row is not None, detail)
    return True


def purge_contacts(db: Session, days: int, now: datetime | None = None) -> int:
    """Forget organizers' contacts `days` after their rally ended; returns how many.

    Contacts are private, so the public data version does not move.
    """
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
