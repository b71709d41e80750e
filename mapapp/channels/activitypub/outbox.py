"""Deliveries to followers' servers: the change queue, the activities, the durable outbox.

A change the public sees (`signals.public_change`) adds an ApChange row in the same
transaction. The worker (mapapp.channels.activitypub.worker) turns each change into
activities from the public projection as it is then (so nothing waiting for moderation,
and nothing of a place before its reveal, is ever sent): a Create of the rally's Event the
first time, an Update after; and a short Note for an urgent change (danger, cancelled,
moved, rescheduled, revealed), since Mastodon shows an Event as a link and, before 4.5,
ignores its Updates. When the rally is no longer public, a Delete of its Event and of every
Note said of it (ApNote keeps their ids); when its place is hidden again (a later reveal
time), a Delete of those Notes, which named the place. A place revealed by its time is found by the
worker (`queue_reveals`) and sent as an Update and a Note like any change; so is the reveal
of a rally that was public before ActivityPub was on (the outbox served its Event).

Each activity is queued once per follower server (ApDelivery, to its shared inbox) and
sent signed, in order per server, servers in parallel (a slow one holds only its own
thread: a hostile follower server cannot delay everyone's danger warning); a failing server waits (backoff doubling from 30 s to
6 h) and holds its later deliveries back; one failing for ACTIVITYPUB_DROP_DAYS is dropped
with its followers.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mapapp.channels.activitypub import federation, net
from mapapp.domain.models import (
    ApChange,
    ApDelivery,
    ApNote,
    ApRally,
    ApServer,
    PublishedRally,
    utcnow,
)
from mapapp.publishing import activitystreams as streams
from mapapp.publishing.public import PublicRally, public_rally

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MOST = 30, 6 * 3600  # seconds
PER_SERVER = 20  # deliveries to one server in one round, at most
TURN_SECONDS = 10.0  # a server's turn ends after this (plus one request's timeout at most)
THREADS = 16  # servers sent to at once
BATCH = 200  # changes or servers handled in one round


def enqueue(sender: Flask, session: Session, rally_id: int, kind: str, **_extra: Any) -> None:
    """`public_change` receiver: note the change in the caller's transaction (no commit)."""
    if not sender.config.get("ACTIVITYPUB"):
        return
    session.add(ApChange(rally_id=rally_id, kind=kind, created_at=utcnow()))


def language() -> str:
    return current_app.config.get("ACTIVITYPUB_LANGUAGE") or "be"


def adopt_hidden(session: Session, now: datetime) -> None:
    """Give an ApRally (its Event live, its place not sent) to each public rally whose place
    is still hidden and that was never sent nor queued: on the map before ActivityPub was on, it is in
    the outbox, so a follower may have its Event (Mobilizon backfills from there); its
    reveal is then sent as an Update and a Note like any other's (no commit)."""
    # Sent (ApRally), or to be sent (a change queued when it was published while on).
    known = select(ApRally.rally_id).union(select(ApChange.rally_id))
    hidden = session.scalars(
        select(PublishedRally.id)
        .where(PublishedRally.reveal_at > now, PublishedRally.id.not_in(known))
        .limit(BATCH)
    ).all()
    for rally_id in hidden:
        view = public_rally(session, rally_id, now)
        if view is None or view.exact:
            continue
        session.add(
            ApRally(
                rally_id=rally_id,
                live=True,
                revealed=False,
                starts_at=view.starts_at,
                created_at=now,
            )
        )
    session.flush()


def queue_reveals(session: Session, now: datetime | None = None) -> int:
    """Add a "revealed" change for each rally sent without its place whose place is public
    now (its reveal time passed); returns how many. Rallies public before ActivityPub was
    on, their place still hidden, are counted as sent first (adopt_hidden)."""
    now = now or utcnow()
    adopt_hidden(session, now)
    added = 0
    # Only rallies whose reveal time has passed (one indexed join, every round).
    hidden = session.scalars(
        select(ApRally.rally_id)
        .join(PublishedRally, PublishedRally.id == ApRally.rally_id)
        .where(
            ApRally.live.is_(True),
            ApRally.revealed.is_(False),
            PublishedRally.reveal_at <= now,
        )
    ).all()
    for rally_id in hidden:
        view = public_rally(session, rally_id, now)
        if view is None or not view.exact:
            continue
        pending = session.scalars(
            select(ApChange.id).where(ApChange.rally_id == rally_id, ApChange.done_at.is_(None))
        ).first()
        if pending is None:
            session.add(ApChange(rally_id=rally_id, kind="revealed", created_at=now))
            added += 1
    session.commit()
    return added


def activities_for(session: Session, change: ApChange, now: datetime) -> list[dict[str, Any]]:
    """The activities one change sends, and ApRally brought in line (no commit)."""
    base = federation.base_url()
    lang = language()
    view = public_rally(session, change.rally_id, now)
    state = session.get(ApRally, change.rally_id)
    if view is None:
        if state is not None and not state.live:
            return []
        if state is None:
            # Public once (a change is queued only for what the public saw) but never sent:
            # on the map before ActivityPub was on, or taken down before the worker's turn.
            # The outbox showed it (Mobilizon backfills from there): it is deleted too.
            state = ApRally(rally_id=change.rally_id, live=False, created_at=now)
            session.add(state)
        state.live = False
        # The Event, and every Note said of it (a place, a warning): none may stay.
        gone = [streams.event_id(base, change.rally_id)]
        gone += forget_notes(session, change.rally_id, base)
        return [streams.activity("Delete", streams.tombstone(i), base, now) for i in gone]
    event = streams.event(view, base, lang)
    sent: list[dict[str, Any]] = []
    if state is not None and state.live and state.revealed and not view.exact:
        # The place is hidden again (a later reveal time): the Notes sent while it was
        # public name it; they are taken back, as the Event's Update drops it.
        gone = forget_notes(session, change.rally_id, base)
        sent += [streams.activity("Delete", streams.tombstone(i), base, now) for i in gone]
    if state is None or not state.live:
        sent.append(streams.activity("Create", event, base, now))
        kinds = urgent_kinds(view, change.kind, None)
        if state is None:
            state = ApRally(rally_id=view.id, live=True, created_at=now)
            session.add(state)
    else:
        sent.append(streams.activity("Update", event, base, now))
        kinds = urgent_kinds(view, change.kind, state)
    for kind in kinds:
        token = secrets.token_hex(12)
        said = streams.note(view, kind, base, lang, now, token)
        session.add(ApNote(token=token, rally_id=view.id, body=json.dumps(said), created_at=now))
        sent.append(streams.activity("Create", said, base, now))
    state.live, state.revealed, state.starts_at = True, view.exact, view.starts_at
    return sent


def forget_notes(session: Session, rally_id: int, base: str) -> list[str]:
    """Delete the kept Notes of a rally (no commit); returns their ids, for a Delete each."""
    notes = session.scalars(select(ApNote).where(ApNote.rally_id == rally_id)).all()
    for kept in notes:
        session.delete(kept)
    return [streams.note_id(base, kept.token) for kept in notes]


def urgent_kinds(view: PublicRally, kind: str, state: ApRally | None) -> list[str]:
    """Which Notes a change makes: its urgent status (still the rally's status), a new
    start time, a place that was hidden from followers and is public now."""
    kinds = []
    if kind in ("danger", "cancelled", "moved") and view.status == kind:
        kinds.append(kind)
    if state is not None and state.starts_at is not None and state.starts_at != view.starts_at:
        kinds.append("rescheduled")
    if state is not None and not state.revealed and view.exact and view.place:
        kinds.append("revealed")
    return kinds


def process_changes(session: Session, now: datetime | None = None) -> int:
    """Turn the queued changes into deliveries, one per activity and server; returns how
    many changes were handled."""
    now = now or utcnow()
    changes = session.scalars(
        select(ApChange).where(ApChange.done_at.is_(None)).order_by(ApChange.id).limit(BATCH)
    ).all()
    servers = session.scalars(select(ApServer.id)).all()
    for change in changes:
        for activity in activities_for(session, change, now):
            body = json.dumps(activity, ensure_ascii=False)
            session.add_all(
                ApDelivery(server_id=s, body=body, attempts=0, created_at=now) for s in servers
            )
        session.delete(change)  # handled: nothing of it needs keeping
        session.commit()
    return len(changes)


def backoff(attempts: int) -> timedelta:
    """30 s doubling at each failure, at most 6 hours."""
    return timedelta(seconds=min(BACKOFF_MOST, BACKOFF_FIRST * 2 ** max(attempts - 1, 0)))


def post(inbox: str, body: bytes) -> None:
    """Send one signed activity. :raise net.NetError: it did not arrive (status kept);
    a 4xx other than 401, 408 and 429 is `gone` (the server will never take it)."""
    place = net.target(inbox)
    headers = federation.our_signer("POST", place.path, place.host, body)
    headers["Content-Type"] = streams.ACTIVITY_JSON
    status, _answer = net.request("POST", place, headers, body, limit=64 * 1024)
    if 200 <= status < 300:
        return
    if 400 <= status < 500 and status not in (401, 408, 429):
        raise net.NetError("refused", status)
    raise net.NetError("status", status)


@dataclass
class Sent:
    """What one server's turn of a round did: the rows it took (delivered or refused for
    good), and the failure that ended it, if any (`kind`, `status`)."""

    done: list[int] = field(default_factory=list)
    failed: net.NetError | None = None
    failed_row: int | None = None


def send_turn(app: Flask, inbox: str, rows: list[tuple[int, str]]) -> Sent:
    """One server's turn, in a thread of its own: its rows in order, until one fails or
    TURN_SECONDS have passed (a slow server keeps only its own thread)."""
    sent = Sent()
    started = time.monotonic()
    with app.app_context():
        for row_id, body in rows:
            if time.monotonic() - started > TURN_SECONDS:
                break
            try:
                post(inbox, body.encode())
            except net.NetError as error:
                if error.kind == "refused":
                    sent.done.append(row_id)  # the server will never take this one: go on
                    continue
                sent.failed, sent.failed_row = error, row_id
                break
            sent.done.append(row_id)
    return sent


def deliver_due(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Send what is due, in order per server, PER_SERVER at most each, servers in
    parallel (THREADS, healthy ones first); counts of delivered, failed (servers that
    failed this round) and dropped (servers given up). Only this thread uses the database."""
    now = now or utcnow()
    counts = {"delivered": 0, "failed": 0, "dropped": 0}
    drop_after = timedelta(days=int(current_app.config.get("ACTIVITYPUB_DROP_DAYS") or 3))
    waiting = select(ApDelivery.server_id).where(ApDelivery.delivered_at.is_(None))
    servers = session.scalars(
        select(ApServer)
        .where(ApServer.next_at <= now, ApServer.id.in_(waiting))
        .order_by(ApServer.attempts, ApServer.id)
        .limit(BATCH)
    ).all()
    turns = []
    for server in servers:
        rows = session.execute(
            select(ApDelivery.id, ApDelivery.body)
            .where(ApDelivery.server_id == server.id, ApDelivery.delivered_at.is_(None))
            .order_by(ApDelivery.id)
            .limit(PER_SERVER)
        ).all()
        turns.append((server, [(row[0], row[1]) for row in rows]))
    session.commit()  # no transaction (nor SQLite lock) held while the network is used
    if not turns:
        return counts
    app = current_app._get_current_object()
    with ThreadPoolExecutor(max_workers=min(THREADS, len(turns))) as pool:
        results = list(pool.map(lambda turn: send_turn(app, turn[0].inbox, turn[1]), turns))
    for (server, _rows), sent in zip(turns, results, strict=True):
        server = session.get(ApServer, server.id)
        if server is None:
            continue  # unfollowed meanwhile
        if sent.done:
            session.execute(delete(ApDelivery).where(ApDelivery.id.in_(sent.done)))
            counts["delivered"] += len(sent.done)
        if sent.failed is None:
            server.attempts, server.failing_since, server.error = 0, None, None
        else:
            error = sent.failed
            server.attempts += 1
            server.error = error.kind if error.status is None else f"{error.kind} {error.status}"
            server.failing_since = server.failing_since or now
            server.next_at = now + backoff(server.attempts)
            counts["failed"] += 1
            row = session.get(ApDelivery, sent.failed_row)
            if row is not None:
                row.attempts += 1
            log.warning("ActivityPub delivery failed: %s", server.error)
            if now - server.failing_since >= drop_after:
                federation.drop_server(session, server.id)
                counts["dropped"] += 1
        session.commit()
    return counts
