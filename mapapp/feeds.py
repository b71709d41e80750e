"""Rallies as iCalendar (RFC 5545) and as CSV, for calendar apps and spreadsheets.

Pure functions, no Flask: the caller passes how to link a rally. As in mapapp.rallies,
the rows and events are built field by field, so no contact or token can slip in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import timedelta

from icalendar import Calendar, Event

from mapapp.i18n import MINSK
from mapapp.models import Status
from mapapp.public import PublicRally
from mapapp.rallies import local_iso

RallyUrl = Callable[[int], str]
# The sentences a rally's state adds, in the feed's language: (first in SUMMARY, first in
# DESCRIPTION), e.g. the danger warning and "the exact place will be announced at ...".
Notes = Callable[[PublicRally], tuple[str, str]]

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

CSV_COLUMNS = ("id", "title", "town", "place", "region", "starts_at", "status", "lat", "lon", "url",
               "reveal_at")  # fmt: skip
# Spreadsheets run a cell starting with these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def rally_uid(rally_id: int) -> str:
    return f"rally-{rally_id}@{UID_DOMAIN}"


def no_notes(rally: PublicRally) -> tuple[str, str]:
    return "", ""


def rally_event(rally: PublicRally, url: str, notes: Notes = no_notes) -> Event:
    """One VEVENT. An unrevealed place: LOCATION is the town alone and there is no GEO."""
    start = rally.starts_at.astimezone(MINSK)
    if rally.ends_at and rally.ends_at > rally.starts_at:
        end = rally.ends_at.astimezone(MINSK)
    else:
        end = start + DEFAULT_LENGTH  # RFC 5545: DTEND must come after DTSTART
    event = Event()
    event.add("uid", rally_uid(rally.id))
    # DTSTAMP of a published calendar is when the event last changed (RFC 5545, 3.8.7.2).
    event.add("dtstamp", rally.updated_at)
    event.add("dtstart", start)
    event.add("dtend", end)
    warning, note = notes(rally)
    event.add("summary", f"{warning} {rally.title}" if warning else rally.title)
    event.add("location", ", ".join(part for part in (rally.place, rally.town) if part))
    # Several calendar apps never show URL: the link goes at the end of the description too.
    description = "\n\n".join(part for part in (note, rally.description, url) if part)
    event.add("description", description)
    if rally.exact:
        event.add("geo", (rally.lat, rally.lon))
    event.add("url", url)
    event.add("status", ICAL_STATUS[rally.status])
    # Bumped with every public change, so calendars replace their copy (RFC 5545, 3.8.7.4).
    event.add("sequence", rally.sequence)
    return event


def calendar(rallies: Iterable[PublicRally], rally_url: RallyUrl, notes: Notes = no_notes) -> bytes:
    """One VCALENDAR with a VEVENT a rally, times in Europe/Minsk with its VTIMEZONE."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    for rally in rallies:
        cal.add_component(rally_event(rally, rally_url(rally.id), notes))
    # Built from zoneinfo, so clients need not know the TZID; only when an event uses it.
    cal.add_missing_timezones()
    return cal.to_ical()


def csv_cell(value: str | int | float) -> str | int | float:
    """Text that a spreadsheet would run as a formula gets a leading quote.

    Only text: our numbers (id, coordinates) come from the database and cannot carry a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_document(
    rallies: Iterable[PublicRally], rally_url: RallyUrl, notes: Notes = no_notes
) -> bytes:
    """One row a rally; an unrevealed place is empty, its point the town's, `reveal_at` set."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for rally in rallies:
        row = (
            rally.id,
            rally.title,
            rally.town,
            rally.place or "",
            rally.region,
            local_iso(rally.starts_at),
            rally.status,
            round(rally.lat, 6),
            round(rally.lon, 6),
            rally_url(rally.id),
            local_iso(rally.reveal_at) if rally.reveal_at else "",
        )
        writer.writerow([csv_cell(value) for value in row])
    # With a byte order mark Excel reads the file as UTF-8 and shows Cyrillic right.
    return out.getvalue().encode("utf-8-sig")
