"""Two moderators suspend a third at once, and revert that moderator's recent actions.

The first moderator proposes (a `ModeratorVote` with the hours to revert), a second one
confirms the same proposal: `SUSPEND_VOTES` different moderators, never the target, each
counted once by account. Then, in one transaction: the target is suspended (no log-in;
raising the session epoch ends every session at once, and the sessions are checked on every
request), their approvals waiting for others stop counting (mapapp.domain.lifecycle.
approvers_of), and every rally they changed or helped change in the last `hours` hours goes
back to what it was before their first such change there (lifecycle.revert_to, one public
change each: every output, feed and copy follows). The audit log names both moderators.
A vote expires after VOTE_HOURS; the operator reinstates with `flask reinstate-moderator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mapapp.domain import lifecycle
from mapapp.domain.models import (
    Approval,
    AuditEntry,
    KnownOrganizer,
    Moderator,
    ModeratorVote,
    Rally,
    utcnow,
)

SUSPEND_VOTES = 2  # "any two moderators": the proposer and the one who confirms
VOTE_HOURS = 24  # an unconfirmed proposal is forgotten after this
MAX_REVERT_HOURS = 168  # a week at most


@dataclass
class Outcome:
    """What a vote did: `done` (suspended; `reverted` rally ids), else `count` of `needed`."""

    done: bool
    count: int
    needed: int
    voters: list[str] = field(default_factory=list)
    reverted: list[int] = field(default_factory=list)


def votes(db: Session, target: Moderator) -> list[ModeratorVote]:
    """The live votes to suspend `target` (expired ones deleted), first first."""
    db.execute(
        delete(ModeratorVote).where(ModeratorVote.at < utcnow() - timedelta(hours=VOTE_HOURS))
    )
    return list(
        db.scalars(
            select(ModeratorVote)
            .join(Moderator, Moderator.id == ModeratorVote.voter_id)
            .where(ModeratorVote.target_id == target.id, Moderator.suspended_at.is_(None))
            .order_by(ModeratorVote.at, ModeratorVote.id)
        )
    )


def vote(db: Session, voter: Moderator, target: Moderator, hours: int) -> Outcome:
    """`voter` proposes or confirms suspending `target` and reverting `hours` hours.

    Votes count together only for the same `hours` (a different number replaces the
    voter's own vote and starts a new proposal). Commits.
    :raise lifecycle.Refused: the target is the voter, already suspended, or hours is out
        of 0..MAX_REVERT_HOURS.
    """
    if target.id == voter.id:
        raise lifecycle.Refused(_l("You cannot vote on your own suspension."))
    if target.suspended_at is not None:
        raise lifecycle.Refused(_l("This moderator is already suspended."))
    if not 0 <= hours <= MAX_REVERT_HOURS:
        raise lifecycle.Refused(
            _l("Hours must be a number from 0 to %(hours)d.", hours=MAX_REVERT_HOURS)
        )
    db.execute(
        select(Moderator).where(Moderator.id == target.id).with_for_update()
    )  # two confirmations at once count in turn (PostgreSQL)
    db.execute(
        delete(ModeratorVote).where(
            ModeratorVote.target_id == target.id, ModeratorVote.voter_id == voter.id
        )
    )
    db.add(ModeratorVote(target_id=target.id, voter_id=voter.id, hours=hours))
    db.flush()
    same = [v for v in votes(db, target) if v.hours == hours]
    names = [db.get(Moderator, v.voter_id).name for v in same]
    actor = f"{lifecycle.MODERATOR}:{voter.name}"
    if len(same) < SUSPEND_VOTES:
        lifecycle.audit(db, actor, "propose_suspension", None, f"{target.name}; {hours} h", names)
        db.commit()
        return Outcome(False, len(same), SUSPEND_VOTES, names)
    reverted = suspend(db, target, hours, actor, names)
    return Outcome(True, len(same), SUSPEND_VOTES, names, reverted)


def suspend(
    db: Session, target: Moderator, hours: int, actor: str, approvers: list[str]
) -> list[int]:
    """Suspend `target` now and revert their actions of the last `hours` hours; commits.

    Returns the ids of the rallies put back.
    """
    now = utcnow()
    target.suspended_at = now
    target.session_epoch = (target.session_epoch or 0) + 1  # every session ends
    db.execute(delete(ModeratorVote).where(ModeratorVote.target_id == target.id))
    db.execute(delete(ModeratorVote).where(ModeratorVote.voter_id == target.id))
    # Their approvals still waiting for others are gone (those already done are reverted).
    db.execute(
        delete(Approval).where(Approval.moderator_id == target.id, Approval.action != "danger")
    )
    reverted = revert_actions(db, target, hours, actor, approvers) if hours else []
    lifecycle.audit(
        db,
        actor,
        "suspend_moderator",
        None,
        f"{target.name}; {hours} h; {len(reverted)}",
        approvers,
    )
    db.commit()
    return reverted


def _by(entry: AuditEntry, name: str) -> bool:
    """Whether the moderator `name` made this change or was one of its approvers."""
    return entry.actor == f"{lifecycle.MODERATOR}:{name}" or name in entry.approvers.split(", ")


def revert_actions(
    db: Session, target: Moderator, hours: int, actor: str, approvers: list[str]
) -> list[int]:
    """Put back every rally `target` changed (or helped change) in the last `hours` hours
    as it was before their first such change; organizers they marked known are unmarked.
    In the caller's transaction. Returns the rally ids, in the order of those changes."""
    since = utcnow() - timedelta(hours=hours)
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.at >= since, AuditEntry.rally_id.is_not(None))
        .order_by(AuditEntry.id)
    ).all()
    first: dict[int, AuditEntry] = {}
    for entry in entries:
        if not _by(entry, target.name):
            continue
        if entry.action == "trust_organizer":
            rally = db.get(Rally, entry.rally_id)
            if rally is not None and rally.organizer_key:
                db.execute(delete(KnownOrganizer).where(KnownOrganizer.key == rally.organizer_key))
        if entry.before and entry.rally_id not in first:
            first[entry.rally_id] = entry
    done = []
    for rally_id, entry in first.items():
        rally = db.get(Rally, rally_id)
        if rally is None:
            continue
        lifecycle.revert_to(db, rally, entry.before, actor, approvers)
        done.append(rally_id)
    return done


def reinstate(db: Session, target: Moderator) -> None:
    """The operator lifts a suspension (`flask reinstate-moderator`); commits."""
    target.suspended_at = None
    lifecycle.audit(db, lifecycle.SYSTEM, "reinstate_moderator", None, target.name)
    db.commit()
