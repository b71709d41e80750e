"""The public changes feeds tell as news of their own (mapapp.publishing.atom).

A `public_change` listener writes a RallyNews row in the transaction of each change: an
urgent kind (danger, cancelled, moved, rescheduled: a new start time) or the signal's plain
kind, with the start time after the change (the next change is compared with it). The
reveal of a place at its time needs no row: it is the rally's `reveal_at`, once passed. A
take-down writes a GONE row: feeds mark the rally's entries deleted for GONE_DAYS.
Nothing private: no actor, no text, only what the public saw change and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mapapp.domain.models import PublishedRally, Rally, RallyNews, utcnow
from mapapp.domain.signals import public_change

# The changes a feed announces with an entry of their own ("revealed" comes from reveal_at).
URGENT = ("danger", "cancelled", "moved", "rescheduled")
# A feed tells at most this many urgent changes of one rally (the newest).
KEEP_PER_RALLY = 8
# The kind of the row a take-down writes; feeds mark the rally's entries deleted for
# GONE_DAYS after it (RFC 6721), then forget it.
GONE = "taken_down"
GONE_DAYS = 30
GONE_MOST = 1000  # deletion markers in one feed, at most (the newest)


def record(sender: Flask, session: Session, rally_id: int, kind: str, **_extra: Any) -> None:
    """`public_change` receiver: note the change in the caller's transaction (no commit)."""
    row = session.get(PublishedRally, rally_id)
    now = utcnow()
    last = session.scalars(
        select(RallyNews.starts_at)
        .where(RallyNews.rally_id == rally_id)
        .order_by(RallyNews.id.desc())
        .limit(1)
    ).first()
    if row is None:
        # Taken down: the rally leaves the feeds; when is kept for their deletion markers
        # (the start is the last the public saw, for a restore's comparison; never shown).
        session.add(RallyNews(rally_id=rally_id, kind=GONE, at=now, starts_at=last or now))
        return
    if last is not None and last != row.starts_at:
        session.add(
            RallyNews(
                rally_id=rally_id,
                kind="rescheduled",
                at=now,
                starts_at=row.starts_at,
                previous_starts_at=last,
            )
        )
    session.add(RallyNews(rally_id=rally_id, kind=kind, at=now, starts_at=row.starts_at))


def baseline(session: Session, rallies: Iterable[Rally]) -> None:
    """The start of rallies published without a signal (seed, demo data): a later change
    of it is "rescheduled"."""
    now = utcnow()
    session.add_all(
        RallyNews(rally_id=r.id, kind="published", at=now, starts_at=r.starts_at) for r in rallies
    )


def urgent_news(session: Session, rally_ids: list[int]) -> dict[int, list[RallyNews]]:
    """The urgent changes of these rallies, newest first, at most KEEP_PER_RALLY each."""
    found: dict[int, list[RallyNews]] = {}
    for start in range(0, len(rally_ids), 5000):
        chunk = rally_ids[start : start + 5000]
        rows = session.scalars(
            select(RallyNews)
            .where(RallyNews.rally_id.in_(chunk), RallyNews.kind.in_(URGENT))
            .order_by(RallyNews.rally_id, RallyNews.id.desc())
        )
        for row in rows:
            kept = found.setdefault(row.rally_id, [])
            if len(kept) < KEEP_PER_RALLY:
                kept.append(row)
    return found


@dataclass(frozen=True)
class Gone:
    """A rally taken down within GONE_DAYS: its id and feed key (which name its feed
    entries), when, and its urgent news (each an entry of its own). Nothing else of it."""

    rally_id: int
    key: str
    at: datetime
    news: list[RallyNews]


def gone_since(session: Session, since: datetime) -> list[Gone]:
    """Rallies taken down since `since` and not public now, newest first (GONE_MOST)."""
    public = select(PublishedRally.id)
    rows = session.execute(
        select(RallyNews.rally_id, func.max(RallyNews.at), Rally.feed_key)
        .join(Rally, Rally.id == RallyNews.rally_id)
        .where(RallyNews.kind == GONE, RallyNews.at >= since, RallyNews.rally_id.not_in(public))
        .group_by(RallyNews.rally_id, Rally.feed_key)
        .order_by(func.max(RallyNews.at).desc())
        .limit(GONE_MOST)
    ).all()
    news = urgent_news(session, [row[0] for row in rows])
    return [Gone(row[0], row[2] or "", row[1], news.get(row[0], [])) for row in rows]


def feed_keys(session: Session, rally_ids: list[int]) -> dict[int, str]:
    """Each rally's feed key (a rally made before it had one: its id alone)."""
    keys: dict[int, str] = {}
    for start in range(0, len(rally_ids), 5000):
        chunk = rally_ids[start : start + 5000]
        for rally_id, key in session.execute(
            select(Rally.id, Rally.feed_key).where(Rally.id.in_(chunk))
        ):
            keys[rally_id] = key or ""
    return keys


def init_app(app: Flask) -> None:
    # A module function: connected once for every app (blinker keeps a weak reference to
    # functions, and a module's live as long as the process).
    public_change.connect(record)
