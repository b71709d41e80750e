"""Rallies as iCalendar (RFC 5545), for calendar apps.

Pure functions, no Flask: the caller passes how to link a rally. As in mapapp.publishing.geojson,
the rows and events are built field by field, so no contact or token can slip in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import cache

from icalendar import Calendar, Event, Timezone, TimezoneStandard

from mapapp.domain.models import Status
from mapapp.places.locale import MINSK
from mapapp.publishing.parts import Layout
from mapapp.publishing.public import PublicRally

RallyUrl = Callable[[int], str | None]
# The sentences a rally's state adds, in the feed's language: (first in SUMMARY, first in
# DESCRIPTION, after the description), e.g. the danger warning, "the exact place will be
# announced at ..." and how the rally was checked.
Notes = Callable[[PublicRally], tuple[str, str, str]]

PRODID = "-//mapapp//Rally map of Belarus//EN"
# UIDs must not change with the host a feed was fetched from, or calendars would show twins.
UID_DOMAIN = "mapapp"
# Most rallies give no end; calendars need one to draw the event.
DEFAULT_LENGTH = timedelta(hours=2)
ICAL_STATUS = {
    Status.APPROVED.value: "CONFIRMED",
    Status.CANCELLED.value: "CANCELLED",
    Status.DANGER.value: "CONFIRMED",  # still on, but the SUMMARY starts with the warning
    Status.MOVED.value: "CONFIRMED",
}


def rally_uid(rally_id: int) -> str:
    return f"rally-{rally_id}@{UID_DOMAIN}"


def no_notes(rally: PublicRally) -> tuple[str, str, str]:
    return "", "", ""


def rally_event(rally: PublicRally, url: str | None, notes: Notes = no_notes) -> Event:
    """One VEVENT; `url` None leaves the link out (an export without a site). An unrevealed
    place: LOCATION is the town alone and there is no GEO.

    Times from MINSK_SINCE on are Minsk local times (TZID=Europe/Minsk, see minsk_timezone);
    earlier ones, when Minsk had summer time, are written in UTC, which every client reads
    the same way.
    """
    start = rally.starts_at
    if rally.ends_at and rally.ends_at > rally.starts_at:
        end = rally.ends_at
    else:
        end = start + DEFAULT_LENGTH  # RFC 5545: DTEND must come after DTSTART
    event = Event()
    event.add("uid", rally_uid(rally.id))
    # DTSTAMP of a published calendar is when the event last changed (RFC 5545, 3.8.7.2).
    event.add("dtstamp", rally.updated_at)
    event.add("last-modified", rally.updated_at)
    # Bumped with every public change, so calendars replace their copy (RFC 5545, 3.8.7.4).
    event.add("sequence", rally.sequence or 0)
    event.add("dtstart", _event_time(start))
    event.add("dtend", _event_time(end))
    warning, note, checked = notes(rally)
    event.add("summary", f"{warning} {rally.title}" if warning else rally.title)
    event.add("location", ", ".join(part for part in (rally.place, rally.town) if part))
    # Several calendar apps never show URL: the link goes at the end of the description too.
    description = "\n\n".join(part for part in (note, rally.description, checked, url) if part)
    event.add("description", description)
    if rally.exact:  # no point for a place not yet revealed
        event.add("geo", (rally.lat, rally.lon))
    if url:
        event.add("url", url)
    event.add("status", ICAL_STATUS[rally.status])
    return event


# Minsk has been on UTC+3 all year since this instant (27 March 2011, 02:00 local, +02).
MINSK_SINCE = datetime(2011, 3, 27, 0, 0, tzinfo=UTC)
MINSK_TZID = "Europe/Minsk"


def _event_time(value: datetime) -> datetime:
    if value >= MINSK_SINCE:
        return value.astimezone(MINSK)
    return value.astimezone(UTC)


def minsk_timezone() -> Timezone:
    """Europe/Minsk as one observance: +03:00 from 27 March 2011 on, exact for every time
    written with it (earlier ones go out in UTC).

    Generated VTIMEZONEs list every historic transition, some in one multi-value RDATE that
    ical.js and vobject misread, and a COMMENT that libical's checks refuse; this one has
    nothing a client could read in two ways.
    """
    zone = Timezone()
    zone.add("tzid", MINSK_TZID)
    standard = TimezoneStandard()
    standard.add("dtstart", datetime(2011, 3, 27, 2, 0))
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=3))
    standard.add("tzname", "+03")
    zone.add_component(standard)
    return zone


@cache
def calendar_layout() -> Layout:
    """A VCALENDAR as bytes: its properties and the VTIMEZONE, the VEVENTs (each ends with
    CRLF, so nothing goes between them), and the END line."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add_component(minsk_timezone())
    whole = cal.to_ical()
    tail = b"END:VCALENDAR\r\n"
    if not whole.endswith(tail):  # icalendar ends every component with its END line
        raise ValueError("icalendar wrote an unexpected calendar end")
    return Layout(whole[: -len(tail)], b"", tail)


def event_bytes(rally_url: RallyUrl, notes: Notes = no_notes) -> Callable[[PublicRally], bytes]:
    """A function giving one rally's VEVENT as icalendar writes it (folded lines, CRLF):
    a part of a calendar (see mapapp.publishing.parts and calendar_layout)."""
    return lambda rally: rally_event(rally, rally_url(rally.id), notes).to_ical()


def calendar(rallies: Iterable[PublicRally], rally_url: RallyUrl, notes: Notes = no_notes) -> bytes:
    """One VCALENDAR with a VEVENT a rally, times in Europe/Minsk with its VTIMEZONE.

    The VTIMEZONE is always there, so an empty feed is still a valid calendar (RFC 5545
    wants at least one component).
    """
    layout, part = calendar_layout(), event_bytes(rally_url, notes)
    return layout.head + b"".join(part(rally) for rally in rallies) + layout.tail
