"""Public rallies (read through mapapp.publishing.public) in their GeoJSON and JSON forms, and ETags.

Nothing here returns a contact or a token: public shapes are built field by field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from mapapp.domain.filters import RallyFilter
from mapapp.publishing.parts import Layout
from mapapp.publishing.public import (  # noqa: F401 - the public reads, re-exported for older callers
    MAX_ID,
    PublicRally,
    count_public,
    current_version,
    data_version,
    public_rallies,
    public_rally,
)
from mapapp.web.i18n import MINSK, current_language, local_datetime, town_name


def etag_for(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def list_etag(db: Session, rally_filter: RallyFilter, now: datetime, *parts: str) -> str:
    """The ETag of a filtered list of public rallies (GeoJSON, feeds): `parts` tell formats apart.

    Keyed by the data version, which moves with every public change and at each moment the
    public view moves by itself (a reveal time, an upcoming rally turning past).
    """
    return etag_for(data_version(db, now), rally_filter.key(), *parts)


def local_iso(value: datetime) -> str:
    """ISO 8601 with the Minsk offset: what a person in Minsk would read."""
    return value.astimezone(MINSK).isoformat()


def public_properties(rally: PublicRally) -> dict[str, Any]:
    """A rally's map properties. An unrevealed place is `place: null`, with `exact: false`
    and `reveal_at` (Minsk ISO 8601); `status` is approved, cancelled, danger or moved."""
    properties = {
        "id": rally.id,
        "title": rally.title,
        "town": rally.town,
        "place": rally.place,
        "region": rally.region,
        "starts_at": local_iso(rally.starts_at),
        "status": rally.status,
        "featured": rally.featured,
    }
    if not getattr(rally, "exact", True):
        properties["exact"] = False
        properties["reveal_at"] = local_iso(rally.reveal_at)
    return properties


def public_detail(rally: PublicRally) -> dict[str, Any]:
    detail = public_properties(rally)
    detail.update(
        description=rally.description,
        ends_at=local_iso(rally.ends_at) if rally.ends_at else None,
        lat=rally.lat,
        lon=rally.lon,
        exact=rally.exact,
        reveal_at=local_iso(rally.reveal_at) if rally.reveal_at else None,
        changes_pending=rally.changes_pending,
        sequence=rally.sequence,
        updated_at=rally.updated_at.isoformat(),
    )
    return detail


def in_language(lang: str) -> Callable[[PublicRally], dict[str, Any]]:
    """What the map shows in a language: the town's name, the start time as text, and
    for an unrevealed place when it will be announced.

    The time is formatted here because browsers lack some languages' dates (Chromium
    has no Belarusian in Intl), and so the map reads like the list and rally pages.
    """

    def localise(rally: PublicRally) -> dict[str, Any]:
        texts = {
            "town": town_name(rally, lang),
            "starts_text": local_datetime(rally.starts_at, "full", lang),
        }
        if not getattr(rally, "exact", True):
            texts["place_text"] = reveal_sentence(rally.reveal_at, lang)
        return texts

    return localise


def reveal_sentence(reveal_at: datetime, lang: str | None = None) -> str:
    """ "The exact place will be announced at <Minsk time>", in `lang` (or the page's)."""
    when = local_datetime(reveal_at, "long", lang)
    with force_locale(lang or current_language()):
        return gettext("The exact place will be announced at %(time)s.", time=when)


def status_sentence(status: str, lang: str | None = None) -> str:
    """The fixed, translated sentence an urgent status shows ("" for approved)."""
    with force_locale(lang or current_language()):
        sentences = {
            "danger": gettext("Danger: police are at the place. Do not come."),
            "moved": gettext("The place has changed: check the new place before you go."),
            "cancelled": gettext("This rally is cancelled."),
        }
    return sentences.get(status, "")


def feed_notes(lang: str) -> Callable[[PublicRally], tuple[str, str]]:
    """For calendars: the danger or moved warning first in SUMMARY, and for an unrevealed
    place when it will be announced, first in DESCRIPTION (mapapp.publishing.feeds.Notes)."""

    def notes(rally: PublicRally) -> tuple[str, str]:
        warning = status_sentence(rally.status, lang) if rally.status in ("danger", "moved") else ""
        note = "" if rally.exact else reveal_sentence(rally.reveal_at, lang)
        return warning, note

    return notes


def feature(rally: Any, localise: Callable[[Any], dict[str, Any]] | None = None) -> dict[str, Any]:
    """One rally as a GeoJSON Feature (a dict): a Point, the id, the public properties."""
    return {
        "type": "Feature",
        "id": rally.id,
        "geometry": {
            "type": "Point",
            "coordinates": [round(rally.lon, 6), round(rally.lat, 6)],
        },
        "properties": {**public_properties(rally), **(localise(rally) if localise else {})},
    }


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as every GeoJSON document here is written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# A FeatureCollection as bytes: this head, the features' JSON joined by commas, this tail.
FEATURES_LAYOUT = Layout(b'{"type":"FeatureCollection","features":[', b",", b"]}")


def feature_bytes(
    localise: Callable[[Any], dict[str, Any]] | None = None,
) -> Callable[[Any], bytes]:
    """A function giving one rally's Feature as JSON bytes: a part of a FeatureCollection
    (see mapapp.publishing.parts and FEATURES_LAYOUT)."""
    return lambda rally: to_json(feature(rally, localise))


def feature_collection(
    rallies: Sequence[Any], localise: Callable[[Any], dict[str, Any]] | None = None
) -> bytes:
    """PublicRally values (or, on the moderators' map, Rally rows) as GeoJSON; `localise`
    adds or replaces properties for one language."""
    part = feature_bytes(localise)
    layout = FEATURES_LAYOUT
    return layout.head + layout.sep.join(part(rally) for rally in rallies) + layout.tail
