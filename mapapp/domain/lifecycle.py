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
import json
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased

from mapapp.domain import news
from mapapp.domain.models import (
    PUBLIC_STATUSES,
    PUBLISHED_FIELDS,
    Approval,
    AuditEntry,
    DataVersion,
    KnownOrganizer,
    Moderator,
    PublishedRally,
    Rally,
    Status,
    utcnow,
)
from mapapp.domain.signals import public_change
from mapapp.places.index import distance_km

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
TIME_FIELDS = ("starts_at", "ends_at")

# A moderator's actions that need MAPAPP_APPROVALS different moderators (see `decide`):
# each one puts people at a place, or keeps them away from a real rally. "approve_changes"
# only when the changes move the place or the time, "reject" only of a public rally
# (a take-down). "danger" stays one step: a late warning costs more than a false one.
# "trust_organizer": the organizer's next rallies need one approval fewer.
GATED = ("approve", "approve_move", "approve_changes", "cancel", "restore", "move", "reject",
         "clear_danger", "trust_organizer", "new-manage-link")  # fmt: skip
# Approvals of these change no rally's sequence, so they are spent (deleted) when the action
# happens: else two old approvals would let one moderator do it again alone later.
UNVERSIONED = ("trust_organizer", "new-manage-link")


# Two versions name "the same place" when their place texts are equal once case, spaces,
# punctuation and the apostrophe's forms are set aside, and their pins lie less than this
# apart. 150 m: at the zoom people drag a pin on a phone (a town on the screen, 10-20 m a
# pixel) a finger's slip is 5-10 pixels, 50-200 m; a square, a park's entrance or a
# monument named in the text is about that size, and people in it see each other. A pin
# further off, or another text, is another place.
SAME_PLACE_M = 150.0


def place_text(text: str | None) -> str:
    """A place's text as compared: letters and digits, lower case, one space between words
    ("Плошча Леніна." and "плошча  леніна" are one text; ’ ʼ ' and punctuation drop out)."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    words = "".join(c if unicodedata.category(c)[0] in "LN" else " " for c in folded)
    return " ".join(words.split())


def same_place(old: Any, new: dict[str, Any]) -> bool:  # noqa: ANN401
    """Whether `new` (town, place, lat, lon) names the place `old` (a rally or its published
    version) has: the same town, the same text (`place_text`), the pin within SAME_PLACE_M."""
    return (
        place_text(new["town"]) == place_text(old.town)
        and place_text(new["place"]) == place_text(old.place)
        and distance_km(new["lat"], new["lon"], old.lat, old.lon) * 1000 < SAME_PLACE_M
    )


def moves_in_public(row: Any, new_place: dict[str, Any], now: datetime | None = None) -> bool:  # noqa: ANN401
    """Whether publishing `new_place` (town, place, lat, lon) over the published `row` is a
    move the public can see: the one rule of every approval and of a moderator's edit.

    A new town always is. A new place inside the town is only when the public has seen the
    place `row` has (its reveal time is none or past) and `new_place` is not the same place
    (`same_place`). While the place is hidden the public knows only the town: a "moved"
    warning would point at a place nobody can see, and tell watchers that it changed.
    """
    if place_text(new_place["town"]) != place_text(row.town):
        return True
    shown = row.reveal_at is None or row.reveal_at <= (now or utcnow())
    return shown and not same_place(row, new_place)


# Public states that say something about the exact place ("moved: check the new place"): set
# only once the public has seen the place (`place_was_shown`). While it is hidden the public
# knows the town only, and a warning about a place nobody can see tells watchers it changed.
NEEDS_SHOWN_PLACE = ("move",)


def needs_shown_place(db: Session, rally: Rally, action: str, now: datetime | None = None) -> bool:
    """Whether `action` would set a public state about a place the public has not seen: the
    one rule of every way to it (the buttons, `decide`, `perform`)."""
    return action in NEEDS_SHOWN_PLACE and not place_was_shown(db, rally, now)


def refuse_hidden_place(db: Session, rally: Rally, action: str) -> None:
    """:raise Refused: `action` needs a place the public has seen (`needs_shown_place`)."""
    if needs_shown_place(db, rally, action):
        raise Refused(
            _l(
                "The exact place of this rally is still hidden: the public sees only the town, "
                "so it cannot be marked as moved. Change the place in “Edit” (the new place "
                "stays hidden until its time), or set a danger warning."
            )
        )


class Refused(Exception):
    """A change the state table does not allow; `message` (lazy, translated) says why.

    Views answer it with 409 Conflict.
    """

    def __init__(self, message: Any) -> None:
        super().__init__(message)  # lazy: turned into text in the request's language
        self.message = message


class RevealRefused(Refused):
    """A reveal time the rules refuse (`set_reveal`): forms show it beside the reveal choice,
    with what was typed kept, rather than answering 409."""


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


def audit(
    db: Session,
    actor: str,
    action: str,
    rally: Rally | None,
    detail: str = "",
    approvers: list[str] | None = None,
    before: str | None = None,
) -> None:
    """One audit entry; `before` (a moderator's change): `snapshot` of the rally before it."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        rally_id=rally.id if rally else None,
        detail=detail,
        approvers=", ".join(approvers or []),
    )
    if before is not None:  # left out of the INSERT otherwise (a schema before 0015 works too)
        entry.before = before
    db.add(entry)


# What `snapshot` keeps of a rally and of its published version (never the contact).
SNAPSHOT_FIELDS = (*PUBLISHED_FIELDS, "changes_pending", "manage_token_hash", "reject_reason")
SNAPSHOT_PUBLISHED = (*PUBLISHED_FIELDS, "status", "checked_by", "organizer_known",
                      "previous_starts_at")  # fmt: skip
_TIMES = ("starts_at", "ends_at", "reveal_at", "previous_starts_at")


def snapshot(db: Session, rally: Rally) -> str:
    """The rally as it is now, as JSON: its state, working copy (no contact) and published
    version (null: not public). `revert_to` puts it back."""

    def plain(value: Any) -> Any:  # noqa: ANN401
        return value.isoformat() if isinstance(value, datetime) else value

    row = published(db, rally)
    return json.dumps(
        {
            "status": rally.status,
            "rally": {name: plain(getattr(rally, name)) for name in SNAPSHOT_FIELDS},
            "published": None
            if row is None
            else {name: plain(getattr(row, name)) for name in SNAPSHOT_PUBLISHED},
        }
    )


def _moderator_snapshot(db: Session, rally: Rally | None, actor: str) -> str | None:
    if rally is None or actor_kind(actor) != MODERATOR:
        return None
    return snapshot(db, rally)


def revert_to(db: Session, rally: Rally, before: str, actor: str, approvers: list[str]) -> str:
    """Put the rally back as `before` (a `snapshot`) says, as one public change: the
    sequence and the data version move, and every output and copy follows (a rally that was
    not public then is taken down now). Returns the state it is in again."""
    saved = json.loads(before)

    def value(name: str, raw: Any) -> Any:  # noqa: ANN401
        return datetime.fromisoformat(raw) if name in _TIMES and raw is not None else raw

    row = published(db, rally)
    was_public = row is not None
    now = utcnow()
    # A place the public has seen stays shown: the copies keep it (`set_reveal`).
    seen = None
    if row is not None and (row.reveal_at is None or row.reveal_at <= now):
        seen = (_place_of(row), row.reveal_at)
    for name, raw in saved["rally"].items():
        setattr(rally, name, value(name, raw))
    rally.sequence = (rally.sequence or 0) + 1
    then = saved["published"]
    if then is None and row is not None:
        db.delete(row)
    elif then is not None:
        if row is None:
            row = PublishedRally(id=rally.id)
            db.add(row)
        for name, raw in then.items():
            setattr(row, name, value(name, raw))
        for version in (row, rally):
            hidden = seen and version.reveal_at and version.reveal_at > now
            if hidden and same_place(version, seen[0]):
                version.reveal_at = seen[1]
        row.sequence = rally.sequence
        row.changes_pending = rally.changes_pending
        row.updated_at = utcnow()
    to = saved["status"]
    public = was_public or then is not None
    if then is None:
        kind = "taken_down"
    elif not was_public:
        kind = "published"
    else:
        kind = {CANCELLED: "cancelled", DANGER: "danger", MOVED: "moved"}.get(to, "restored")
    rally.status = to
    audit(db, actor, "revert", rally, "", approvers)
    if public:
        bump_version(db)
        db.flush()
        public_change.send(
            current_app._get_current_object(), session=db, rally_id=rally.id, kind=kind
        )
    return to


def bump_version(db: Session) -> None:
    """Move the public data version, in the caller's transaction (one row, by key)."""
    done = db.execute(
        update(DataVersion).where(DataVersion.id == 1).values(version=DataVersion.version + 1)
    )
    if done.rowcount == 0:
        db.add(DataVersion(id=1, version=2))


def published(db: Session, rally: Rally) -> PublishedRally | None:
    return db.get(PublishedRally, rally.id)


def _publish(db: Session, rally: Rally, status: str, checked_by: int | None = None) -> None:
    """Copy the working copy to the published version (a moderator has seen it).

    `checked_by`: how many moderators approved this version (None: as before, at least 1).
    """
    known = organizer_known(db, rally)  # read before the new row is added (autoflush)
    row = published(db, rally)
    if row is None:
        row = PublishedRally(id=rally.id, checked_by=0)
        db.add(row)
    elif row.starts_at is not None and row.starts_at != rally.starts_at:
        row.previous_starts_at = row.starts_at  # a public rally's time changed
    row.checked_by = checked_by if checked_by is not None else max(row.checked_by or 0, 1)
    row.organizer_known = known
    now = utcnow()
    if (
        row.starts_at is not None  # a version the public has
        and (row.reveal_at is None or row.reveal_at <= now)
        and rally.reveal_at is not None
        and rally.reveal_at > now
        and same_place(row, _place_of(rally))
    ):
        # The public has seen this place (its reveal time passed while a new start waited,
        # say): its copies keep it, so the new version does not hide it again (`set_reveal`).
        rally.reveal_at = row.reveal_at
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
    db: Session,
    rally: Rally,
    actor: str,
    action: str,
    to: str,
    public: bool,
    detail: str = "",
    approvers: list[str] | None = None,
    before: str | None = None,
) -> None:
    """Record the change; when the public sees it, move the data version and tell listeners."""
    rally.status = to
    audit(db, actor, action, rally, detail, approvers, before)
    if public:
        bump_version(db)
        db.flush()
        kind = SIGNAL_KINDS.get(action)
        if kind:
            public_change.send(
                current_app._get_current_object(), session=db, rally_id=rally.id, kind=kind
            )
    db.commit()


class QueueFull(Exception):  # noqa: N818 - reads as "the moderation queue is full"
    """MAPAPP_PENDING_LIMIT rallies are waiting already: a new submission is refused."""


QUEUE_FULL = "queue_full"  # the audit action that tells moderators (once an hour at most)


def queue_full(db: Session) -> bool:
    """Whether as many rallies wait for moderators as MAPAPP_PENDING_LIMIT allows."""
    waiting = db.scalar(select(func.count(Rally.id)).where(Rally.status == Status.PENDING.value))
    return int(waiting or 0) >= int(current_app.config["PENDING_LIMIT"])


def submit(
    db: Session,
    fields: dict[str, Any],
    token: str | None = None,
    organizer_key: str | None = None,
) -> tuple[Rally, str]:
    """Store a new rally as pending; returns it and its manage token (shown once).

    ``token``: the manage token to give it (the form's submission key), else a new one.
    ``organizer_key``: the organizer's, from the rally whose manage page sent them here.
    Nothing public changes, so the data version stays as it is.
    :raise sqlalchemy.exc.IntegrityError: a rally already has that token.
    :raise QueueFull: the queue holds MAPAPP_PENDING_LIMIT rallies (from the form and the bot
        together: a flood of fake ones stops there); the audit log says so once an hour.
    """
    if queue_full(db):
        since = utcnow() - timedelta(hours=1)
        told = db.scalar(
            select(AuditEntry.id).where(AuditEntry.action == QUEUE_FULL, AuditEntry.at > since)
        )
        if told is None:
            db.add(AuditEntry(actor=SYSTEM, action=QUEUE_FULL, rally_id=None, detail=""))
            db.commit()
        raise QueueFull
    to = transition(None, ORGANIZER, "submit")
    token = token or new_token()
    rally = Rally(**fields, status=to, manage_token_hash=hash_token(token))
    rally.organizer_key = organizer_key or secrets.token_hex(16)
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
    news.baseline(db, rallies)
    bump_version(db)
    db.flush()


def approve(db: Session, rally: Rally, actor: str) -> str:
    """A moderator's "approve": publish a pending rally, or an organizer's waiting edit.

    An approved edit that changes the place marks a public rally `moved`. Returns the state.
    """
    if rally.status in LIVE and rally.changes_pending:
        row = published(db, rally)
        moved = row is not None and moves_in_public(row, _place_of(rally))
        return perform(db, rally, actor, "approve_move" if moved else "approve_changes")
    return perform(db, rally, actor, "approve")


def perform(
    db: Session,
    rally: Rally,
    actor: str,
    action: str,
    reason: str | None = None,
    approvers: list[str] | None = None,
) -> str:
    """Do one status action of TRANSITIONS (not edit or reveal: see `edit`, `set_reveal`).

    At once: a moderator's action goes through `decide`, which calls this once enough
    moderators approved it (`approvers`, their names, go into the audit entry).
    Raises Refused when the table, or the rally (no waiting changes), does not allow it.
    Returns the new state.
    """
    to = transition(rally, actor, action)
    refuse_hidden_place(db, rally, action)
    before = _moderator_snapshot(db, rally, actor)
    row = published(db, rally)
    if action in ("approve_changes", "approve_move", "reject_changes") and not (
        rally.changes_pending and row is not None
    ):
        raise Refused(_l("There are no changes waiting for a moderator."))
    _next_version(db, rally)
    public = row is not None or to in PUBLIC_STATUSES
    if action in ("approve", "approve_changes", "approve_move"):
        checked = len(approvers) if approvers else None
        if action == "approve_changes" and checked is not None and row is not None:
            checked = max(checked, row.checked_by or 0)  # the place and time stay as checked
        _publish(db, rally, to, checked)
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
    _finish(db, rally, actor, action, to, public, reason or "", approvers, before)
    return to


def _place_of(rally: Rally) -> dict[str, Any]:
    return {name: getattr(rally, name) for name in PLACE_FIELDS}


def concrete(db: Session, rally: Rally, action: str) -> str:
    """A moderator's "approve" as the action it is: publish, or publish the waiting changes
    (`approve_move` when the public sees a move: `moves_in_public`)."""
    if action == "approve" and rally.status in LIVE and rally.changes_pending:
        row = published(db, rally)
        moved = row is not None and moves_in_public(row, _place_of(rally))
        return "approve_move" if moved else "approve_changes"
    return action


def organizer_known(db: Session, rally: Rally) -> bool:
    """Whether the moderators marked this rally's organizer as known (KnownOrganizer)."""
    key = rally.organizer_key
    return key is not None and db.get(KnownOrganizer, key) is not None


def organizer_key_of(db: Session, rally: Rally) -> str:
    """The rally's organizer key, made now for a rally from before keys (the caller commits)."""
    if rally.organizer_key is None:
        rally.organizer_key = secrets.token_hex(16)
    return rally.organizer_key


def required(db: Session, rally: Rally, action: str) -> int:
    """How many different moderators must approve `action` (a concrete one) on the rally."""
    if action not in GATED:
        return 1
    if action == "approve" and organizer_known(db, rally):
        # A known organizer's new rally: one approval fewer (never none).
        return max(1, int(current_app.config["APPROVALS"]) - 1)
    row = published(db, rally)
    if action == "reject" and row is None:
        return 1  # rejecting what was never public: the organizer can edit and send it again
    # A text-only edit ("approve_changes") needs as many as a new place or time: a title
    # changed to "cancelled, stay home" keeps people away like a cancel does.
    return max(1, int(current_app.config["APPROVALS"]))


def dangers_set_alone(db: Session, moderator: Moderator, hours: float = 1) -> int:
    """How many danger warnings `moderator` set or asked for in the last `hours` hours that
    no other moderator has marked or confirmed since (their "danger" approvals alone on
    their rally's version: a confirmed warning no longer counts)."""
    other = aliased(Approval)
    confirmed = (
        select(other.id)
        .where(
            other.rally_id == Approval.rally_id,
            other.action == "danger",
            other.sequence == Approval.sequence,
            other.moderator_id != moderator.id,
        )
        .exists()
    )
    return db.scalar(
        select(func.count(Approval.id)).where(
            Approval.moderator_id == moderator.id,
            Approval.action == "danger",
            Approval.at >= utcnow() - timedelta(hours=hours),
            ~confirmed,
        )
    )


def waiting_dangers(db: Session) -> list[tuple[Rally, list[str]]]:
    """Public rallies with a danger warning waiting for a second moderator (danger_needs),
    most recent first, with who asked for it: shown at the top of the moderators' queue, so
    that the second one is found at once, not by opening every rally."""
    rows = db.execute(
        select(Rally, Approval.moderator_id)
        .join(Approval, Approval.rally_id == Rally.id)
        .join(Moderator, Moderator.id == Approval.moderator_id)
        .where(
            Approval.action == "danger",
            Approval.sequence == func.coalesce(Rally.sequence, 0),
            Rally.status.in_((APPROVED, MOVED)),
            Moderator.suspended_at.is_(None),
        )
        .order_by(Approval.at.desc(), Approval.id.desc())
    ).all()
    found: dict[int, tuple[Rally, list[str]]] = {}
    for rally, moderator_id in rows:
        found.setdefault(rally.id, (rally, []))[1].append(_name(db, moderator_id))
    return list(found.values())


def _next_version(db: Session, rally: Rally) -> None:
    """Move the rally to its next version (its `sequence`: approvals are of one version). A
    danger warning waiting for a second moderator (danger_needs) goes on waiting on the new
    one: an edit, anyone's, dropped it unseen (review of session 8)."""
    old = rally.sequence or 0
    rally.sequence = old + 1
    if rally.status != DANGER:  # on a danger rally these are its setters, of that version
        db.execute(
            update(Approval)
            .where(
                Approval.rally_id == rally.id,
                Approval.action == "danger",
                Approval.sequence == old,
            )
            .values(sequence=old + 1)
        )


def danger_needs(db: Session, moderator: Moderator) -> int:
    """How many moderators a danger warning by `moderator` needs now: 1 (a late warning
    costs more than a false one) until they set DANGER_ALONE_PER_HOUR alone in the last
    hour; then, with APPROVALS of 2 or more, that many (a seized account marking every
    rally dangerous would keep everyone home)."""
    approvals = int(current_app.config["APPROVALS"])
    limit = int(current_app.config["DANGER_ALONE_PER_HOUR"])
    if approvals < 2:
        return 1
    # The moderator's row locked until the commit (PostgreSQL; SQLite has one writer): two
    # presses on two rallies at once would both count the same warnings and both pass.
    db.execute(select(Moderator.id).where(Moderator.id == moderator.id).with_for_update())
    if dangers_set_alone(db, moderator) < limit:
        return 1
    return approvals


@dataclass
class Decision:
    """What a moderator's press did: `done` (the action happened, to state `to`), or the
    approval was recorded and `count` of `needed` moderators approved so far."""

    action: str
    done: bool
    count: int
    needed: int
    to: str | None = None
    approvers: list[str] = field(default_factory=list)


def approvers_of(db: Session, rally: Rally, action: str) -> list[Approval]:
    """The approvals of `action` on the rally's present version, first first; a suspended
    moderator's approvals no longer count."""
    return list(
        db.scalars(
            select(Approval)
            .join(Moderator, Moderator.id == Approval.moderator_id)
            .where(
                Approval.rally_id == rally.id,
                Approval.action == action,
                Approval.sequence == (rally.sequence or 0),
                Moderator.suspended_at.is_(None),
            )
            .order_by(Approval.at, Approval.id)
        )
    )


def waiting_approvals(db: Session, rally: Rally) -> list[Decision]:
    """The actions some moderators approved on this version and that wait for more."""
    actions = db.scalars(
        select(Approval.action)
        .where(Approval.rally_id == rally.id, Approval.sequence == (rally.sequence or 0))
        .distinct()
    )
    found = []
    for action in sorted(actions):
        if action == "danger" and rally.status == DANGER:
            continue  # those who set and confirmed it (danger_setters)
        if action not in UNVERSIONED and allowed(f"{MODERATOR}:", action, rally.status) is None:
            continue
        names = [_name(db, a.moderator_id) for a in approvers_of(db, rally, action)]
        # A danger waits only when its moderator was past their warnings alone (danger_needs).
        needed = (
            int(current_app.config["APPROVALS"])
            if action == "danger"
            else with_editors(db, rally, action, required(db, rally, action), names)
        )
        found.append(Decision(action, False, len(names), needed, None, names))
    return found


def danger_setters(db: Session, rally: Rally) -> list[str]:
    """Who set and confirmed the present danger warning (moderators' names; empty: the
    organizer set it, or there is none)."""
    if rally.status != DANGER:
        return []
    return [_name(db, a.moderator_id) for a in approvers_of(db, rally, "danger")]


def _name(db: Session, moderator_id: int) -> str:
    moderator = db.get(Moderator, moderator_id)
    return moderator.name if moderator is not None else "?"


def _approve_once(
    db: Session, rally: Rally, moderator: Moderator, action: str, detail: str
) -> None:
    """Record `moderator`'s approval of `action` on this version (once: a second press, from
    any session of the same account, adds nothing)."""
    known = db.scalar(
        select(Approval.id).where(
            Approval.rally_id == rally.id,
            Approval.action == action,
            Approval.sequence == (rally.sequence or 0),
            Approval.moderator_id == moderator.id,
        )
    )
    if known is None:
        db.add(
            Approval(
                rally_id=rally.id,
                action=action,
                sequence=rally.sequence or 0,
                moderator_id=moderator.id,
                detail=detail[:300],
            )
        )
        db.flush()


def _lock(db: Session, rally: Rally) -> None:
    """Take the rally's row lock (PostgreSQL; SQLite's writer is one at a time already) and
    re-read it, so two moderators approving at once both count, in turn."""
    db.execute(
        select(Rally)
        .where(Rally.id == rally.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def decide(
    db: Session, rally: Rally, moderator: Moderator, action: str, reason: str | None = None
) -> Decision:
    """A moderator's status action (approve, reject, cancel, danger, clear_danger, move,
    restore, confirm_danger), through the approvals it needs.

    The approval is recorded; when `required` different moderators approved the same action
    on the same version of the rally, it happens (`perform`) and the audit entry names them
    all. Until then nothing public changes. A moderator's danger happens at once, up to
    DANGER_ALONE_PER_HOUR of theirs (danger_needs); a second moderator confirms it
    ("confirm_danger"); lifting it ("clear_danger") needs `required`
    moderators, the one who set it included (review 28: one other alone could lift a real one).
    Raises Refused when the state table does not allow the action now.
    """
    actor = f"{MODERATOR}:{moderator.name}"
    _lock(db, rally)
    if action == "confirm_danger":
        setters = approvers_of(db, rally, "danger")
        if rally.status != DANGER or not setters:
            raise Refused(_l("There is no moderator's danger warning to confirm."))
        _approve_once(db, rally, moderator, "danger", "")
        audit(db, actor, "confirm_danger", rally)
        db.commit()
        names = danger_setters(db, rally)
        return Decision(action, True, len(names), len(names), rally.status, names)
    if action == "untrust_organizer":  # taking trust away is safe: one step
        if rally.organizer_key is not None:
            db.query(KnownOrganizer).filter(KnownOrganizer.key == rally.organizer_key).delete()
        audit(db, actor, action, rally)
        db.commit()
        return Decision(action, True, 1, 1, rally.status, [moderator.name])
    if action == "trust_organizer":
        if organizer_known(db, rally):
            raise Refused(_l("The moderators already know this organizer."))
    else:
        action = concrete(db, rally, action)
        transition(rally, actor, action)  # refused before anything is recorded
        refuse_hidden_place(db, rally, action)
    if action in ("approve_changes", "approve_move") and not rally.changes_pending:
        raise Refused(_l("There are no changes waiting for a moderator."))
    needed = danger_needs(db, moderator) if action == "danger" else required(db, rally, action)
    _approve_once(db, rally, moderator, action, reason or "")
    approvals = approvers_of(db, rally, action)
    ids = [a.moderator_id for a in approvals]
    needed = with_editors(db, rally, action, needed, [_name(db, i) for i in ids])
    # Lifting a danger warning takes `needed` moderators too (the one who set it may be one):
    # a real warning lifted by one seized account would send people into the trap.
    enough = len(ids) >= needed
    names = [_name(db, i) for i in ids]
    if enough and action == "trust_organizer":
        db.add(KnownOrganizer(key=organizer_key_of(db, rally)))
        _spend(db, rally, action)
        audit(db, actor, action, rally, "", names)
        db.commit()
        return Decision(action, True, len(ids), needed, rally.status, names)
    if not enough:
        audit(db, actor, f"approval:{action}", rally, f"{len(ids)}/{needed}")
        db.commit()
        return Decision(action, False, len(ids), needed, rally.status, names)
    to = perform(db, rally, actor, action, reason, approvers=names)
    if action == "danger":
        # Who set it, kept against the new version: shown, confirmed or lifted by another
        # (set by two, it is confirmed already).
        for approval in approvals:
            _approve_once(db, rally, db.get(Moderator, approval.moderator_id), "danger", "")
        db.commit()
    return Decision(action, True, len(ids), needed, to, names)


def _spend(db: Session, rally: Rally, action: str) -> None:
    """Delete the approvals of an action that just happened and moves no sequence."""
    db.execute(delete(Approval).where(Approval.rally_id == rally.id, Approval.action == action))


def decide_manage_link(
    db: Session, rally: Rally, moderator: Moderator
) -> tuple[Decision, str | None]:
    """A moderator's press of "Make a new manage link", through MAPAPP_APPROVALS moderators.

    A manage link is the organizer's one-step cancel and danger, and a known organizer's
    "Submit another rally" (one approval fewer): one moderator alone must not get one.
    Returns the decision and, when this press was the last one needed, the new token (the
    old link stops working; the approvals are spent). Commits.
    """
    action = "new-manage-link"
    actor = f"{MODERATOR}:{moderator.name}"
    _lock(db, rally)
    needed = required(db, rally, action)
    _approve_once(db, rally, moderator, action, "")
    ids = [a.moderator_id for a in approvers_of(db, rally, action)]
    names = [_name(db, i) for i in ids]
    if len(ids) < needed:
        audit(db, actor, f"approval:{action}", rally, f"{len(ids)}/{needed}")
        db.commit()
        return Decision(action, False, len(ids), needed, rally.status, names), None
    _spend(db, rally, action)
    token = new_manage_link(db, rally, actor, names)
    return Decision(action, True, len(ids), needed, rally.status, names), token


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
    refuse_cancelled_edit(db, rally, actor)
    row = published(db, rally)
    action = "edit"
    held = None  # a moderator's new place or time of a live rally, waiting for more approvals
    before = _moderator_snapshot(db, rally, actor)
    if kind == MODERATOR and rally.status in LIVE and row is not None:
        # Any change of what the public reads waits for more approvals, text too: a seized
        # account's "cancelled, stay home" in a title keeps people away like a cancel.
        shown = tuple(name for name in EDITABLE if name != "contact")
        new = {name: fields.get(name, getattr(rally, name)) for name in shown}
        changes = any(new[name] != getattr(row, name) for name in shown)
        if changes and int(current_app.config["APPROVALS"]) > 1:
            held = _moderator(db, actor)
    if held is not None:
        pass  # published below as changes waiting, with this moderator's approval
    elif kind == MODERATOR and rally.status in LIVE and row is not None:
        new_place = {name: fields.get(name, getattr(rally, name)) for name in PLACE_FIELDS}
        if moves_in_public(row, new_place):
            action = "move"
    to = transition(rally, actor, action)
    for name in changed:
        setattr(rally, name, fields[name])
    detail = ", ".join(c for c in changed if c != "contact")
    if not detail:  # only the contact: private, nothing to review
        db.commit()
        return changed
    _next_version(db, rally)
    public = False
    if kind == MODERATOR and row is not None and held is None:
        _publish(db, rally, to)
        public = True
    elif row is not None:
        public = not row.changes_pending  # the "changes pending" note appears
        rally.changes_pending = True
        row.changes_pending = True
        if public:  # a public change: the public revision moves with it
            row.sequence = rally.sequence
            row.updated_at = utcnow()
    _finish(db, rally, actor, action, to, public, detail, before=before)
    if held is not None:
        # The editor's approval of the change; another moderator's publishes it.
        decide(db, rally, held, "approve")
    return changed


def refuse_cancelled_edit(db: Session, rally: Rally, actor: str) -> None:
    """:raise Refused: one moderator would change what the public reads of a cancelled rally.

    A moderator's edit of a live rally waits for MAPAPP_APPROVALS moderators (`edit`); a
    cancelled one has no waiting state to hold it in, and was published at once: one seized
    account could write "cancelled: come to the yard behind the station instead" into it.
    With MAPAPP_APPROVALS above 1 it is refused: restore the rally first (N moderators), then
    edit it (it waits like any edit of a public rally). The organizer cannot edit it either.
    """
    if (
        actor_kind(actor) == MODERATOR
        and rally.status == CANCELLED
        and int(current_app.config["APPROVALS"]) > 1
        and published(db, rally) is not None
    ):
        raise Refused(
            _l(
                "One moderator cannot change a cancelled rally that the public sees: show it "
                "again first (“Show it again (not cancelled)”, which takes several "
                "moderators), then edit it."
            )
        )


def _moderator(db: Session, actor: str) -> Moderator:
    """The account behind 'moderator:NAME' (approvals count accounts, not names in text)."""
    name = actor.split(":", 1)[1] if ":" in actor else ""
    found = db.scalars(select(Moderator).where(Moderator.name == name)).first()
    if found is None:
        raise Refused(_l("Only a moderator's account can approve."))
    return found


def place_was_shown(db: Session, rally: Rally, now: datetime | None = None) -> bool:
    """Whether the public has seen `rally`'s exact place (it is published, and its reveal
    time is none or past): its copies keep it, so it is never hidden again (`set_reveal`)."""
    row = published(db, rally)
    return row is not None and (row.reveal_at is None or row.reveal_at <= (now or utcnow()))


# What a moderator's change of a waiting rally is shown as, field by field, to every other
# moderator (struck and marked) and to the organizer: what the public would read of it.
# The pin (lat, lon) follows them as one field.
CHANGE_FIELDS = ("title", "description", "town", "place", "starts_at", "ends_at", "reveal_at")
# Audit actions after which the working copy is again what its organizer sent, or what was
# published: a moderator's change counts from the last of them. An organizer's edit is one:
# their manage page showed the moderator's change (`moderator_changes`) and they sent it on.
BASELINES = ("submit", "import", "import_approved", "approve", "approve_changes",
             "approve_move", "reject_changes", "revert")  # fmt: skip
APPROVE_ACTIONS = ("approve", "approve_changes", "approve_move")


@dataclass
class ModeratorChange:
    """A moderator's change of what waits: who made it (`editors`, names, first first), and
    each field it changed as (name, what the organizer sent or the public had, what now waits).
    A moved pin is one field, "pin", its values (lat, lon); `pin_was` is then where the
    organizer put it and `moved_km` how far it went: the quietest change, the place's text
    left alone, must read as what it is (review 24c), not as a fifth decimal of a latitude."""

    editors: list[str]
    fields: list[tuple[str, Any, Any]]
    pin_was: tuple[float, float] | None = None
    moved_km: float | None = None


def _aware(value: Any) -> Any:  # noqa: ANN401
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def moderator_changes(db: Session, rally: Rally) -> ModeratorChange | None:
    """What moderators changed of the rally since its organizer last sent it (or it was last
    published), read from the audit log's snapshots (`audit` `before`); None when no moderator
    changed what waits, or their changes came back to what was sent."""
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.rally_id == rally.id).order_by(AuditEntry.id)
    ).all()
    base: dict[str, Any] | None = None
    editors: list[str] = []
    for entry in entries:
        kind = actor_kind(entry.actor)
        if entry.action in BASELINES or (kind == ORGANIZER and entry.action == "edit"):
            base, editors = None, []
            continue
        edits = entry.action in ("edit", "reveal") or (entry.action == "move" and entry.detail)
        if kind != MODERATOR or not edits or not entry.before:
            continue
        if base is None:
            base = json.loads(entry.before)["rally"]
        name = entry.actor.split(":", 1)[1]
        if name not in editors:
            editors.append(name)
    if base is None:
        return None
    fields = []
    for name in CHANGE_FIELDS:
        old, new = base.get(name), getattr(rally, name)
        if name in _TIMES:
            old, new = _aware(old), _aware(new)
        if old != new:
            fields.append((name, old, new))
    was, now = (base.get("lat"), base.get("lon")), (rally.lat, rally.lon)
    if None in was or was == now:
        return ModeratorChange(editors, fields) if fields else None
    was = (float(was[0]), float(was[1]))
    fields.append(("pin", was, now))
    return ModeratorChange(editors, fields, was, distance_km(*was, *now))


def with_editors(db: Session, rally: Rally, action: str, needed: int, approvers: list[str]) -> int:
    """How many approvals publishing `action` needs when moderators changed what waits: the
    `needed` ones, and always one more than the editors among the `approvers`, so that at
    least one moderator who did not write the change approves it (having seen it struck and
    marked, one by one: never in the bulk approve)."""
    if action not in APPROVE_ACTIONS:
        return needed
    change = moderator_changes(db, rally)
    if change is None:
        return needed
    return max(needed, sum(name in change.editors for name in approvers) + 1)


def reveal_choice(db: Session, rally: Rally, now: datetime | None = None) -> datetime | None:
    """The reveal time the manage and moderation forms start from: the working copy's, but
    none (shown now) when the public has seen its place already and the working copy keeps
    it (`same_place`); else a waiting start's "6 hours before" would come back as a hiding
    the form then refuses."""
    if place_was_shown(db, rally, now) and not gives_new_place(db, rally, _place_of(rally)):
        return None
    return rally.reveal_at


def gives_new_place(db: Session, rally: Rally, fields: dict[str, Any]) -> bool:
    """Whether an edit's `fields` (town, place, lat, lon) name another place than the one the
    public has of `rally` (True when nothing of it is public): not `same_place`, so a dot
    added to the text or a pin nudged a few metres is no new place."""
    row = published(db, rally)
    if row is None:
        return True
    return not same_place(
        row, {name: fields.get(name, getattr(row, name)) for name in PLACE_FIELDS}
    )


def public_reveal(
    row: PublishedRally, reveal_at: datetime | None, before_start: timedelta | None, now: datetime
) -> datetime | None:
    """The published version's reveal time for a choice made against the working copy's start.

    An organizer's waiting edit may move the start; the public still reads the approved one,
    so "N hours before the start" (`before_start`) counts from the start the public sees, and
    a time of one's own is never later than that start. The waiting start's reveal is
    published with it when a moderator approves it (`_publish`). None: shown now.
    """
    if reveal_at is None:
        return None
    moment = row.starts_at - before_start if before_start is not None else reveal_at
    moment = min(moment, row.starts_at)
    return moment if moment > now else None


def set_reveal(
    db: Session,
    rally: Rally,
    reveal_at: datetime | None,
    actor: str,
    new_place: bool = False,
    before_start: timedelta | None = None,
) -> bool:
    """When the exact place becomes public (None: now). It adds no text, so an organizer's
    choice applies at once, to the published version too (`public_reveal`: against the start
    the public sees). Returns whether it changed.

    `new_place`: the same edit gives the rally another place, which may be hidden although
    the one it replaces was shown. `before_start`: the choice was "this long before the
    start" (`reveal_at` is that before the working copy's start).

    :raise Refused: a moderator (with MAPAPP_APPROVALS > 1) would hide a public rally's place,
        or show it later than now planned: that keeps people away like a cancel; or show a
        still hidden place sooner: that cannot be undone. Or anyone
        would hide again a place the public has seen, without a new place.
    """
    row = published(db, rally)
    now = utcnow()
    shown = None if row is None else public_reveal(row, reveal_at, before_start, now)
    public = row is not None and row.reveal_at != shown
    if public and (row.reveal_at is None or row.reveal_at <= now) and shown is None:
        public = False  # shown already, and stays so: no change the public can see
    if rally.reveal_at == reveal_at and not public:
        return False
    to = transition(rally, actor, "reveal")
    if (
        reveal_at is not None
        and reveal_at > now
        and not new_place
        and place_was_shown(db, rally, now)
    ):
        # The calendars, channels, offline copies and partners' pages that carried the place
        # keep it: hiding it again protects no one, and tells the organizer it does.
        raise RevealRefused(
            _l(
                "The place has been public already, and the copies people made keep it: it "
                "cannot be hidden again. To meet somewhere else, change the place: the new "
                "place can stay hidden until the time you choose."
            )
        )
    if (
        actor_kind(actor) == MODERATOR
        and row is not None
        and int(current_app.config["APPROVALS"]) > 1
        and shown is not None
        and shown > max(now, row.reveal_at or now)
    ):
        # One moderator hiding a public rally's place (till a minute before the start, say)
        # keeps people away as a cancel does, and would do it at once: the organizer may.
        raise RevealRefused(
            _l(
                "One moderator cannot hide the place of a public rally or show it later: ask "
                "the organizer to do it on the manage page, or set a danger warning."
            )
        )
    if (
        public
        and actor_kind(actor) == MODERATOR
        and int(current_app.config["APPROVALS"]) > 1
        and row.reveal_at is not None
        and row.reveal_at > now
        and (shown is None or shown < row.reveal_at)
    ):
        # Showing a still hidden place sooner cannot be undone (the copies keep it once it is
        # public): one seized account could give away every hidden place before its time.
        raise RevealRefused(
            _l(
                "One moderator cannot show a hidden place sooner: once public it stays public. "
                "Ask the organizer to do it on the manage page."
            )
        )
    if public and new_place and shown is not None and place_was_shown(db, rally, now):
        # A new place hidden until later, over one the public saw: the seen place stays
        # public until the new one is published with its own time (`_publish`, as "moved").
        # Hidden at once, a proposal nobody approved would take the place from the public,
        # and once approved it would not read as a move.
        public = False
    before = _moderator_snapshot(db, rally, actor)
    rally.reveal_at = reveal_at
    _next_version(db, rally)
    if public:  # else the published version keeps its time (a waiting start's is not public)
        row.reveal_at = shown
        _restatus(row, rally, row.status)
    detail = reveal_at.isoformat() if reveal_at else "now"
    _finish(db, rally, actor, "reveal", to, public, detail, before=before)
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


def new_manage_link(
    db: Session, rally: Rally, actor: str, approvers: list[str] | None = None
) -> str:
    """Give the rally a new manage token (the old link stops working); returns it, to be
    shown once and passed on by hand. Moderators go through `decide_manage_link`."""
    token = new_token()
    before = _moderator_snapshot(db, rally, actor)
    rally.manage_token_hash = hash_token(token)
    audit(db, actor, "new-manage-link", rally, before=before, approvers=approvers)
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
        db.execute(
            update(AuditEntry).where(AuditEntry.rally_id.in_(ids)).values(detail="", before=None)
        )
        for rally_id in ids:
            db.add(AuditEntry(actor="system", action="purge-texts", rally_id=rally_id, detail=""))
    db.commit()
    return len(ids)
