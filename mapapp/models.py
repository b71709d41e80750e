"""The tables. Times are stored in UTC and shown in Europe/Minsk."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class Base(DeclarativeBase):
    pass


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


# What anonymous visitors may see: approved rallies, and cancelled ones so the warning spreads.
PUBLIC_STATUSES = (Status.APPROVED.value, Status.CANCELLED.value)


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
    contact: Mapped[str | None] = mapped_column(String(200))  # private: moderators only
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    seed_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # rallies from data/
    reject_reason: Mapped[str | None] = mapped_column(String(300))
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # bumped on every change (iCalendar)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_rally_status_starts_at", "status", "starts_at"),
        Index("ix_rally_region", "region"),
        Index("ix_rally_updated_at", "updated_at"),
    )

    def __repr__(self) -> str:
        return f"<Rally {self.id} {self.status} {self.town!r}>"


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what to which rally, and when. No addresses, no contact data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))  # "moderator:NAME", "organizer", "system"
    action: Mapped[str] = mapped_column(String(40))
    rally_id: Mapped[int | None] = mapped_column(ForeignKey("rally.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")


class RateLimitCounter(Base):
    """A rate-limit window's count (mapapp.limits.DatabaseStorage): shared by all workers.

    name is Flask-Limiter's key (the limit and the client address or account), expires_at
    a Unix time; rows past it are stale and deleted as the counters are used.
    """

    __tablename__ = "rate_limit"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
