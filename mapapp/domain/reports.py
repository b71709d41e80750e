"""Visitors' reports on public rallies: a fixed reason and an optional short text.

Nothing about the visitor is stored: no address, no user agent, no session, no account;
the time only to the hour (so it cannot be matched with a log line). The rate limit that
stops a flood counts by a keyed hash of the address (mapapp.web.limits). Moderators see the
open reports beside the rally (the queue, the rally's page) and mark them handled.
"""

from __future__ import annotations

from collections import Counter

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mapapp.domain.models import VisitorReport, utcnow

# The fixed reasons (stored as these codes), in the order the form offers them.
REASONS = {
    "wrong_place": _l("Wrong place"),
    "provocation": _l("Looks like a provocation"),
    "dispersed": _l("Already dispersed"),
    "other": _l("Other"),
}
TEXT_LIMIT = 280  # characters of the optional text
# Reports waiting on one rally: a hundred tell a moderator all there is to know, and a flood
# from many addresses (each under REPORT_LIMIT) stops there instead of filling the database.
RALLY_WAITING_LIMIT = 100
# Past REPORTS_WAITING_LIMIT on all rallies, a rally with fewer than this many waiting still
# takes reports: a flood spread over many rallies must not silence a real "already dispersed"
# on another one (review of session 8: 200 addresses shut reports off site-wide). The table
# stays bounded: this many a public rally at most, beyond the limit.
RALLY_ALWAYS_TAKES = 10


class ReportsFull(Exception):
    """As many reports wait as allowed: on this rally (`rally` True) or on all together
    (REPORTS_WAITING_LIMIT); nothing was stored."""

    def __init__(self, rally: bool) -> None:
        super().__init__("reports full")
        self.rally = rally


def add(db: Session, rally_id: int, reason: str, text: str) -> None:
    """Store one report (the caller checked the rally is public and the reason is one of
    REASONS; `text` at most TEXT_LIMIT characters). Commits.

    :raise ReportsFull: RALLY_WAITING_LIMIT reports wait on this rally, or
        REPORTS_WAITING_LIMIT on all rallies together (not handled yet) and this rally has
        RALLY_ALWAYS_TAKES already.
    """
    waiting = VisitorReport.handled_at.is_(None)
    on_rally = db.scalar(
        select(func.count(VisitorReport.id)).where(waiting, VisitorReport.rally_id == rally_id)
    )
    if on_rally >= RALLY_WAITING_LIMIT:
        raise ReportsFull(rally=True)
    if on_rally >= RALLY_ALWAYS_TAKES and waiting_full(db):
        raise ReportsFull(rally=False)
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    db.add(VisitorReport(rally_id=rally_id, reason=reason, text=text[:TEXT_LIMIT], at=hour))
    db.commit()


def waiting_full(db: Session) -> bool:
    """Whether REPORTS_WAITING_LIMIT reports wait on all rallies together (then only rallies
    with fewer than RALLY_ALWAYS_TAKES waiting take more; the moderators' queue says so)."""
    total = db.scalar(
        select(func.count(VisitorReport.id)).where(VisitorReport.handled_at.is_(None))
    )
    return total >= int(current_app.config["REPORTS_WAITING_LIMIT"])


def open_counts(db: Session) -> dict[int, int]:
    """Rally id -> how many of its reports are not handled yet, most reported first."""
    rows = db.execute(
        select(VisitorReport.rally_id, func.count(VisitorReport.id))
        .where(VisitorReport.handled_at.is_(None))
        .group_by(VisitorReport.rally_id)
        .order_by(func.count(VisitorReport.id).desc(), VisitorReport.rally_id)
    )
    return {rally_id: int(count) for rally_id, count in rows}


def open_reports(db: Session, rally_id: int) -> list[VisitorReport]:
    """The rally's reports not handled yet, newest first."""
    return list(
        db.scalars(
            select(VisitorReport)
            .where(VisitorReport.rally_id == rally_id, VisitorReport.handled_at.is_(None))
            .order_by(VisitorReport.at.desc(), VisitorReport.id.desc())
        )
    )


def reason_counts(reports: list[VisitorReport]) -> list[tuple[str, int]]:
    """(reason code, count) of these reports, most first."""
    return Counter(report.reason for report in reports).most_common()


def mark_handled(db: Session, rally_id: int, moderator_name: str) -> int:
    """Mark the rally's open reports handled by this moderator; returns how many (the
    caller writes the audit entry and commits)."""
    done = db.execute(
        update(VisitorReport)
        .where(VisitorReport.rally_id == rally_id, VisitorReport.handled_at.is_(None))
        .values(handled_at=utcnow(), handled_by=moderator_name)
    )
    return int(done.rowcount or 0)
