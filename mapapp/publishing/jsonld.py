"""schema.org Event for a rally page (JSON-LD), for search engines and link previews.

Pure: a public rally and the texts and URLs the page already shows in, a dict out. The
template writes it with Jinja's ``tojson``, which escapes ``<``, ``>``, ``&`` and ``'``, so no
user text can close the <script> element.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mapapp.places.locale import MINSK

# As in the calendar feed: a rally without an end is drawn as two hours.
DEFAULT_LENGTH = timedelta(hours=2)
EVENT_STATUS = {
    "cancelled": "https://schema.org/EventCancelled",
}
SCHEDULED = "https://schema.org/EventScheduled"
RESCHEDULED = "https://schema.org/EventRescheduled"


def rally_event(
    rally: Any,
    url: str,
    image: str,
    town: str,
    region: str,
    place: str | None = None,
    headline: str = "",
) -> dict[str, Any]:
    """The Event: name, start and end with the Minsk offset, status, place, url, description.

    `place` is the place's text as the page shows it (None until it is revealed): without it
    the location is the town only, with no coordinates, as the staged-disclosure rule wants.
    `headline` (mapapp.publishing.words.headline: a warning, cancelled, a time change) leads
    the name and the description. A time change is EventRescheduled with previousStartDate.
    """
    start = rally.starts_at.astimezone(MINSK)
    end = rally.ends_at if rally.ends_at and rally.ends_at > rally.starts_at else None
    end = (end or rally.starts_at + DEFAULT_LENGTH).astimezone(MINSK)
    address = {
        "@type": "PostalAddress",
        "addressLocality": town,
        "addressRegion": region,
        "addressCountry": "BY",
    }
    location: dict[str, Any] = {
        "@type": "Place",
        "name": f"{place}, {town}" if place else town,
        "address": address,
    }
    if place and getattr(rally, "exact", True):
        location["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": round(rally.lat, 6),
            "longitude": round(rally.lon, 6),
        }
    previous = getattr(rally, "previous_starts_at", None)
    status = EVENT_STATUS.get(rally.status, SCHEDULED)
    extra: dict[str, Any] = {}
    if previous is not None and previous != rally.starts_at and status == SCHEDULED:
        status = RESCHEDULED
        extra["previousStartDate"] = previous.astimezone(MINSK).isoformat(timespec="minutes")
    return {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": f"{headline} {rally.title}" if headline else rally.title,
        "startDate": start.isoformat(timespec="minutes"),
        "endDate": end.isoformat(timespec="minutes"),
        **extra,
        "eventStatus": status,
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "location": location,
        "url": url,
        "image": [image],
        "description": "\n\n".join(part for part in (headline, rally.description) if part),
    }
