"""Public rallies (read through mapapp.publishing.public) in their GeoJSON and JSON forms.

Nothing here returns a contact or a token: public shapes are built field by field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mapapp.domain.names import town_name
from mapapp.places.locale import local_datetime, local_iso
from mapapp.publishing.parts import Layout
from mapapp.publishing.public import PublicRally, localised, verification
from mapapp.publishing.words import place_note, rescheduled_sentence, verification_sentence


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
    checked_by = getattr(rally, "checked_by", None)  # none on the moderators' working copies
    if checked_by is not None:
        properties["verification"] = verification(rally)
        properties["checked_by"] = checked_by
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
    """What the map shows in a language: the town's name, the start time as text, for an
    unrevealed place when it will be announced, and after a time change the old time
    ("The time has changed: it was ...", `time_note`).

    The time is formatted here because browsers lack some languages' dates (Chromium
    has no Belarusian in Intl), and so the map reads like the list and rally pages.
    """

    def localise(rally: PublicRally) -> dict[str, Any]:
        texts = {
            "town": town_name(rally, lang),
            "starts_text": local_datetime(rally.starts_at, "full", lang),
        }
        # The seed rallies' own texts in the language (the main rally's title and place).
        shown = localised(rally, lang)
        if shown is not rally:
            texts.update(title=shown.title, place=shown.place, description=shown.description)
        note = place_note(rally, lang)  # none for a cancelled rally
        if note:
            texts["place_text"] = note
        previous = getattr(rally, "previous_starts_at", None)
        if previous is not None and previous != rally.starts_at:  # as the rally page says it
            texts["time_note"] = rescheduled_sentence(previous, lang)
        if getattr(rally, "checked_by", None) is not None:
            texts["verification_text"] = verification_sentence(rally, lang)
        return texts

    return localise


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
