"""The tables. Times are stored in UTC and shown in Europe/Minsk."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mapapp.domain.contacts import EncryptedContact, SealedText


class UTCDateTime(TypeDecorator):
    """An aware datetime in Python, UTC in the database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_feed_key() -> str:
    return secrets.token_hex(8)


class Base(DeclarativeBase):
    pass


class Status(enum.StrEnum):
    """The states of a rally; mapapp.domain.lifecycle.TRANSITIONS says how one leads to another."""

    PENDING = "pending"  # never approved: nothing of it is public
    APPROVED = "approved"
    CANCELLED = "cancelled"
    DANGER = "danger"  # police at the place: do not come
    MOVED = "moved"  # the place changed after it was public
    REJECTED = "rejected"  # by a moderator (a public one is taken down)
    WITHDRAWN = "withdrawn"  # by its organizer before it was approved


# The states in which the last approved version is public (cancelled and danger so the
# warning spreads). Every public read goes through PublishedRally, which holds only these.
PUBLIC_STATUSES = (
    Status.APPROVED.value,
    Status.CANCELLED.value,
    Status.DANGER.value,
    Status.MOVED.value,
)


class Rally(Base):
    __tablename__ = "rally"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    town: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(5))  # ISO 3166-2, e.g. BY-HM
    geonameid: Mapped[int | None] = mapped_column(Integer)  # the town in the gazetteer
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default=Status.PENDING.value)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    # Private, moderators only: encrypted with MAPAPP_CONTACT_KEY (mapapp.domain.contacts).
    contact: Mapped[str | None] = mapped_column(EncryptedContact)
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    seed_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # rallies from data/
    reject_reason: Mapped[str | None] = mapped_column(String(300))
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # bumped on every change (iCalendar)
    # When the exact place becomes public (None: at once); until then only the town is shown.
    reveal_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An organizer's edit of a public rally waits for a moderator; the public keeps seeing
    # the published version (PublishedRally) until it is approved.
    changes_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # The same organizer's rallies share it (a rally submitted from a manage page's "submit
    # another rally" takes that rally's key): KnownOrganizer marks the key trusted.
    organizer_key: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Random, made once: with the id it names the rally in feeds (the Atom entry's tag: URI),
    # so an id a restore hands out again names another rally (mapapp.domain.news).
    feed_key: Mapped[str | None] = mapped_column(String(16), default=new_feed_key)

    __table_args__ = (
        Index("ix_rally_status_starts_at", "status", "starts_at"),
        Index("ix_rally_region", "region"),
        Index("ix_rally_updated_at", "updated_at"),
    )

    def __repr__(self) -> str:
        return f"<Rally {self.id} {self.status} {self.town!r}>"


class PublishedRally(Base):
    """The last approved version of a public rally: the only table public outputs read.

    `rally` is the working copy (with the private contact and unreviewed edits); a row is
    copied here only when a moderator approves (or edits) it, and deleted when it is taken
    down, so pending text cannot reach the public by construction. Read it through
    mapapp.publishing.public, which also hides the place until `reveal_at`.
    """

    __tablename__ = "published_rally"

    id: Mapped[int] = mapped_column(ForeignKey("rally.id", ondelete="CASCADE"), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    town: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(5))
    geonameid: Mapped[int | None] = mapped_column(Integer)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12))  # one of PUBLIC_STATUSES
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    reveal_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changes_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # How many different moderators approved the publication of this version (0: imported
    # by the operator); mapapp.publishing.public turns it into the public verification grade.
    checked_by: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Its organizer was known to the moderators (checked outside the site) when it was published.
    organizer_known: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The start time before the last time change of the public rally (None: never changed):
    # every output says "the time has changed: it was ..." (mapapp.publishing.words).
    previous_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Moves with every change of the row (lifecycle sets it; onupdate catches any other
    # UPDATE made through SQLAlchemy): mapapp.publishing.public's per-process cache relies on it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_published_rally_starts_at", "starts_at"),
        Index("ix_published_rally_region", "region"),
        Index("ix_published_rally_reveal_at", "reveal_at"),
    )


# The lists' order with each row's version (mapapp.publishing.public.public_entries reads only these):
# a covering index, so a rebuild sorts nothing (migration 0008_feeds).
Index(
    "ix_published_rally_list",
    PublishedRally.featured.desc(),
    PublishedRally.starts_at,
    PublishedRally.id,
    PublishedRally.updated_at,
    PublishedRally.changes_pending,
)


class PublishedPart(Base):
    """A public rally's part of one document (a GeoJSON Feature, a VEVENT, a CSV line, its
    entry in the map's feed) as bytes, made once when its published row changes and read by
    every worker and every server (mapapp.publishing.partstore). Derived data: a part is used
    only while `revision` is its row's `updated_at` and `exact` the side of its reveal time
    the public is on; both sides are kept for a rally with a reveal time still to come.
    """

    __tablename__ = "published_part"

    # The document and what its text depends on: "ics|be|https://site/rallies/0?lang=be".
    context: Mapped[str] = mapped_column(String(400), primary_key=True)
    exact: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    rally_id: Mapped[int] = mapped_column(
        ForeignKey("published_rally.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_published_part_rally_id", "rally_id"),)


class PublishedChunk(Base):
    """A compressed piece of a feed document (raw deflate of a run of rally parts, see
    mapapp.publishing.parts), by the digest of everything its bytes depend on, shared by every
    worker and server so that none compresses what another already did. Derived data, found
    only by content: a chunk no document uses any more is never read, and goes when it is
    older than mapapp.publishing.partstore.CHUNK_DAYS.
    """

    __tablename__ = "published_chunk"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_published_chunk_made_at", "made_at"),)


class PublishedDocument(Base):
    """A whole feed document, gzipped, by its kind and strong ETag (which names the data
    version, the filter, the language and the address its links use): the first worker or
    server to build it keeps it here and every other one serves these bytes without reading a
    rally. Derived data, only of the current data version (mapapp.publishing.partstore).
    """

    __tablename__ = "published_document"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "feed:<etag>"
    version: Mapped[str] = mapped_column(String(80), index=True)
    gz: Mapped[bytes] = mapped_column(LargeBinary)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The fields an approval copies from the working copy to the published version.
PUBLISHED_FIELDS = ("title", "description", "town", "place", "region", "geonameid", "lat", "lon",
                    "starts_at", "ends_at", "featured", "reveal_at")  # fmt: skip


class DataVersion(Base):
    """One row (id 1): a counter bumped in the transaction of every public change.

    Read by primary key, it keys every public cache; pending-only changes leave it alone.
    A restore (mapapp.domain.backup) never rewinds it: it raises `version` past the highest
    value the replaced database had, gives a new random `epoch` (part of every ETag, so one
    cached before a restore never matches after it) and keeps in `id_floor` the highest rally
    id ever given, so a new rally never takes the id, the calendar UID, of one before.
    """

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    epoch: Mapped[str] = mapped_column(String(32), default="", server_default="")
    id_floor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# SQLite gives a new row max(id) + 1, so after a restore that rewound the table a new rally
# would take the id (and calendar UID) of one given before: ids start above the floor a
# restore keeps (DataVersion.id_floor). PostgreSQL's sequence is raised by the restore itself.
NEXT_RALLY_ID = text(
    "SELECT max(coalesce((SELECT max(id) FROM rally), 0),"
    " coalesce((SELECT id_floor FROM data_version WHERE id = 1), 0)) + 1"
)


@event.listens_for(Rally, "before_insert")
def _rally_id_above_floor(mapper, connection, target) -> None:  # noqa: ANN001
    if target.id is not None or connection.dialect.name != "sqlite":
        return
    # Several rallies in one flush: each above the one given before it in this connection.
    given = connection.info.get("mapapp.rally_id", 0)
    target.id = max(connection.execute(NEXT_RALLY_ID).scalar() or 1, given + 1)
    connection.info["mapapp.rally_id"] = target.id


class GeocodeCache(Base):
    """Answers from the online geocoder, kept so each place is asked about once.

    Keyed by a hash of the folded query, so the table holds no typed address.
    """

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[str] = mapped_column(Text)  # JSON; "null" when the service found nothing
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Throttle(Base):
    """When a shared outside service may next be called (one row per service)."""

    __tablename__ = "throttle"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Moderator(Base):
    __tablename__ = "moderator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    # Sessions carry the epoch they began in; raising it (log out, new password) ends them all.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The second factor (mapapp.web.twofactor): the TOTP secret, encrypted with
    # MAPAPP_CONTACT_KEY like the organizers' contacts; `totp_enabled` once a code confirmed it.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedContact)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The last 30-second step a code was accepted for: a code of that step or before is refused.
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Set when two other moderators suspend this one: no log-in, no session, no approval counts.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """A moderator's one-time recovery code, stored only as its SHA-256 (80 random bits)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    moderator_id: Mapped[int] = mapped_column(
        ForeignKey("moderator.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ModeratorVote(Base):
    """One moderator's vote to suspend another (mapapp.domain.suspension): when
    MAPAPP_APPROVALS different moderators (at least two) voted with the same `hours`, the
    target is suspended and their actions of the last `hours` hours are reverted."""

    __tablename__ = "moderator_vote"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("moderator.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("moderator.id", ondelete="CASCADE"))
    hours: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("target_id", "voter_id", name="uq_moderator_vote"),)


class VisitorReport(Base):
    """A visitor's report on a public rally: a fixed reason and an optional short text.

    Nothing about the visitor: no address, no user agent, no session; the time only to the
    hour (mapapp.views.reports).
    """

    __tablename__ = "visitor_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rally_id: Mapped[int] = mapped_column(ForeignKey("rally.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(80))


class LoginFailure(Base):
    """A failed log-in, counted per account (and per address, hashed) by every worker."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # a keyed hash: no name or address in clear
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_login_failure_key_at", "key", "at"),)


class AuditEntry(Base):
    """Who did what to which rally, and when. No addresses, no contact data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))  # "moderator:NAME", "organizer", "system"
    action: Mapped[str] = mapped_column(String(40))
    rally_id: Mapped[int | None] = mapped_column(ForeignKey("rally.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")
    # The moderators whose approvals made this change, comma-separated ("" for one step).
    approvers: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A moderator's change: the rally as it was before it (JSON, mapapp.domain.lifecycle.snapshot),
    # so that two moderators can revert a suspended moderator's actions.
    # (A server default, so an INSERT without it leaves the column out: older schemas work.)
    before: Mapped[str | None] = mapped_column(Text, server_default=text("NULL"))


class KnownOrganizer(Base):
    """An organizer the moderators checked outside the site (MAPAPP_APPROVALS of them agreed):
    their next rallies (same `Rally.organizer_key`) need one approval fewer."""

    __tablename__ = "known_organizer"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Approval(Base):
    """One moderator's approval of one action on one version of a rally (its `sequence`).

    An action that needs MAPAPP_APPROVALS approvals (mapapp.domain.lifecycle.decide) happens
    when that many different moderators (by id, whatever their sessions) approved it for the
    same version; a change of the rally moves its sequence, and older approvals no longer count.
    """

    __tablename__ = "approval"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rally_id: Mapped[int] = mapped_column(ForeignKey("rally.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("moderator.id", ondelete="CASCADE"))
    detail: Mapped[str] = mapped_column(String(300), default="")  # a rejection's reason
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("rally_id", "action", "sequence", "moderator_id", name="uq_approval"),
    )


class TelegramOutbox(Base):
    """A change the Telegram channel must hear of, written in the transaction of the change.

    The worker delivers rows in id order per rally; `step` records how far a delivery got
    (1: the channel message is posted or edited, 2: the urgent reply is sent too), so a retry
    never posts anything twice.
    """

    __tablename__ = "telegram_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rally_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # a public_change kind, or "revealed"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(80))  # the error's type, never its text

    __table_args__ = (Index("ix_telegram_outbox_due", "delivered_at", "next_at"),)


class TelegramMessage(Base):
    """The channel message that shows a rally, kept to edit it later."""

    __tablename__ = "telegram_message"

    rally_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat: Mapped[str] = mapped_column(String(64), primary_key=True)  # the channel, not a person
    message_id: Mapped[int] = mapped_column(BigInteger)
    text_hash: Mapped[str] = mapped_column(String(64))
    revealed: Mapped[bool] = mapped_column(Boolean, default=True)  # the text shows the place
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The start the channel was last told of: a new start gets a reply, not only an edit.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TelegramReply(Base):
    """A bot message to a private chat, waiting to be sent (the bot's outbox).

    Written in the transaction of the answer that makes it (with the conversation's state
    and the update offset), sent after it by the worker with retries, deleted once sent.
    `payload` is JSON (chat id, text, buttons, or a location) sealed (Fernet) with the contact
    key, else with a key derived from the hash key (never on disk): it may hold a manage
    link; `chat` is the chat's keyed hash, to keep each chat's order.
    """

    __tablename__ = "telegram_reply"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # sealed by mapapp.channels.telegram.bot
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(80))  # the error's type, never its text


class TelegramNotice(Base):
    """A post of the site itself in a channel (the signing key's fingerprint), by name."""

    __tablename__ = "telegram_notice"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    chat: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))  # what the post tells (the fingerprint)
    message_id: Mapped[int] = mapped_column(BigInteger)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TelegramChat(Base):
    """A private chat with the bot, known only by a keyed hash of its id, for an hour at most.

    Holds the conversation in progress and the rate-limit counters; nothing of it is
    stored with a rally, and the worker deletes the row when `expires_at` passes.
    """

    __tablename__ = "telegram_chat"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(2))
    # JSON of the answers so far, sealed with the contact key (it may hold a contact and a
    # place not yet revealed).
    state: Mapped[str | None] = mapped_column(SealedText)
    window_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updates: Mapped[int] = mapped_column(Integer, default=0)
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class TelegramCursor(Base):
    """The worker's position in the bot's updates (getUpdates offset)."""

    __tablename__ = "telegram_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class RateLimitCounter(Base):
    """A rate-limit window's count (mapapp.web.limits.DatabaseStorage): shared by all workers.

    name is Flask-Limiter's key (the limit and the client address or account), expires_at
    a Unix time; rows past it are stale and deleted as the counters are used.
    """

    __tablename__ = "rate_limit"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class RallyNews(Base):
    """A public change of a rally, as feeds tell it (mapapp.domain.news), written in the
    transaction of the change. `kind` is an urgent one (danger, cancelled, moved,
    rescheduled) or the signal's plain kind; `starts_at` the rally's start after the change,
    which the next change is compared with (a new start is "rescheduled"). No actor, no text.
    """

    __tablename__ = "rally_news"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rally_id: Mapped[int] = mapped_column(ForeignKey("rally.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # rescheduled: from


class ApServer(Base):
    """A server with followers of the instance actor (mapapp.channels.activitypub): its
    shared inbox, where every delivery to it goes, and how its deliveries fare.

    Nothing here says who follows: a follower is only a keyed hash (ApFollower).
    `failing_since` is the first failure of the current run of failures (None when the last
    delivery worked); a server failing for ACTIVITYPUB_DROP_DAYS is dropped.
    """

    __tablename__ = "ap_server"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbox: Mapped[str] = mapped_column(String(500), unique=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(80))  # the error's type, never its text


class ApFollower(Base):
    """One follower, as a keyed hash of its actor id (mapapp.web.keyed, the off-disk key):
    enough to find it again for its Undo, never enough to read who it is."""

    __tablename__ = "ap_follower"

    actor_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    server_id: Mapped[int] = mapped_column(
        ForeignKey("ap_server.id", ondelete="CASCADE"), index=True
    )


class ApFollowSeen(Base):
    """The signed Date of the newest Follow or Undo taken from one actor (by the keyed hash
    of ApFollower, nothing else), kept while a request can still be replayed (the Date
    window, mapapp.channels.activitypub.federation.WINDOW): a Follow or Undo not newer
    than it is a replay and is refused (a Follow replayed after its Undo would re-subscribe
    the follower)."""

    __tablename__ = "ap_follow_seen"

    actor_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApChange(Base):
    """A public change ActivityPub followers must hear of, written in its transaction (the
    `public_change` signal) or by the worker when a place's reveal time passes."""

    __tablename__ = "ap_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rally_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # a public_change kind, or "revealed"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class ApRally(Base):
    """What followers were last sent of a rally: whether its Event exists for them (Create
    sent, no Delete since), whether with its place, and its start (a new one is
    "rescheduled")."""

    __tablename__ = "ap_rally"

    rally_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApNote(Base):
    """A Note sent for an urgent change (public text only), served at its id and deleted
    from followers' servers with its rally when the rally is taken down."""

    __tablename__ = "ap_note"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    rally_id: Mapped[int] = mapped_column(Integer, index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApDelivery(Base):
    """One activity (its JSON, signed when sent) for one server's shared inbox."""

    __tablename__ = "ap_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server_id: Mapped[int] = mapped_column(
        ForeignKey("ap_server.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_ap_delivery_due", "delivered_at", "server_id"),)
