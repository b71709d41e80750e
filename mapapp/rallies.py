"""Reading rallies for the public: one query, and their GeoJSON and JSON forms.

Nothing here returns a contact or a token: public shapes are built field by field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mapapp.filters import ONGOING, RallyFilter
from mapapp.i18n import MINSK
from mapapp.models import PUBLIC_STATUSES, Rally, utcnow


def public_rallies(
    db: Session,
    rally_filter: RallyFilter,
    now: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Rally]:
    query = rally_filter.apply(
        select(Rally).where(Rally.status.in_(PUBLIC_STATUSES)), now or utcnow()
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(db.scalars(query))


def count_public(db: Session, rally_filter: RallyFilter, now: datetime | None = None) -> int:
    query = rally_filter.apply(
        select(Rally.id).where(Rally.status.in_(PUBLIC_STATUSES)), now or utcnow()
    )
    return db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


# The id column is a 32-bit INTEGER on PostgreSQL; SQLite cannot even bind an id past 2**63.
MAX_ID = 2**31 - 1


def public_rally(db: Session, rally_id: int) -> Rally | None:
    if not 0 < rally_id <= MAX_ID:
        return None  # a made-up id from a URL is "no such rally", not a database error
    rally = db.get(Rally, rally_id)
    if rally is None or rally.status not in PUBLIC_STATUSES:
        return None
    return rally


def data_version(db: Session) -> str:
    """Changes whenever any rally is added or changed: the key of every public cache.

    It is read from the database, so all gunicorn workers agree without talking to each other.
    """
    latest, count = db.execute(select(func.max(Rally.updated_at), func.count(Rally.id))).one()
    return f"{latest}|{count}"


def etag_for(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def list_etag(db: Session, rally_filter: RallyFilter, now: datetime, *parts: str) -> str:
    """The ETag of a filtered list of public rallies (GeoJSON, feeds): `parts` tell formats apart.

    "upcoming" and "past" move with the clock, so the minute is part of theirs along with the
    data and filter; "all" changes only with the data.
    """
    minute = "" if rally_filter.when == "all" else (now - ONGOING).strftime("%Y%m%d%H%M")
    return etag_for(data_version(db), rally_filter.key(), minute, *parts)


def local_iso(value: datetime) -> str:
    """ISO 8601 with the Minsk offset: what a person in Minsk would read."""
    return value.astimezone(MINSK).isoformat()


def public_properties(rally: Rally) -> dict[str, Any]:
    return {
        "id": rally.id,
        "title": rally.title,
        "town": rally.town,
        "place": rally.place,
        "region": rally.region,
        "starts_at": local_iso(rally.starts_at),
        "status": rally.status,
        "featured": rally.featured,
    }


def public_detail(rally: Rally) -> dict[str, Any]:
    detail = public_properties(rally)
    detail.update(
        description=rally.description,
        ends_at=local_iso(rally.ends_at) if rally.ends_at else None,
        lat=rally.lat,
        lon=rally.lon,
        updated_at=rally.updated_at.isoformat(),
    )
    return detail


def feature_collection(
    rallies: list[Rally], localise: Callable[[Rally], dict[str, Any]] | None = None
) -> bytes:
    """The rallies as GeoJSON; `localise` adds or replaces properties for one language."""
    features = [
        {
            "type": "Feature",
            "id": rally.id,
            "geometry": {
                "type": "Point",
                "coordinates": [round(rally.lon, 6), round(rally.lat, 6)],
            },
            "properties": {**public_properties(rally), **(localise(rally) if localise else {})},
        }
        for rally in rallies
    ]
    document = {"type": "FeatureCollection", "features": features}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
