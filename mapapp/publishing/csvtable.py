"""Rallies as CSV (RFC 4180, UTF-8 with a byte order mark), for spreadsheets.

Pure functions, no Flask: the caller passes how to link a rally. Rows are built field by field,
so no contact or token can slip in; text a spreadsheet would run as a formula is quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from mapapp.places.locale import local_iso
from mapapp.publishing.ics import Notes, RallyUrl, no_notes
from mapapp.publishing.parts import Layout
from mapapp.publishing.public import PublicRally

CSV_COLUMNS = ("id", "title", "town", "place", "region", "starts_at", "status", "lat", "lon", "url",
               "reveal_at", "verification", "notice")  # fmt: skip
# Spreadsheets run a cell starting with these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str | int | float) -> str | int | float:
    """Text that a spreadsheet would run as a formula gets a leading quote.

    Only text: our numbers (id, coordinates) come from the database and cannot carry a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_line(values: Iterable[str | int | float]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().encode()


# With a byte order mark Excel reads the file as UTF-8 and shows Cyrillic right.
CSV_LAYOUT = Layout(b"\xef\xbb\xbf" + _csv_line(CSV_COLUMNS), b"", b"")


def csv_row(rally_url: RallyUrl, notes: Notes = no_notes) -> Callable[[PublicRally], bytes]:
    """A function giving one rally's CSV line (UTF-8, CRLF): a part of the CSV document.
    An unrevealed place is empty, its point the town's, `reveal_at` set. `notice` is what the
    status or change says in words, as a calendar's SUMMARY leads with it ("This rally is
    cancelled.", "The place is announced."...), then when a hidden place will be announced."""

    def row(rally: PublicRally) -> bytes:
        warning, note, _checked = notes(rally)
        values = (
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
            rally.verification,
            " ".join(part for part in (warning, note) if part),
        )
        return _csv_line(csv_cell(value) for value in values)

    return row


def csv_document(
    rallies: Iterable[PublicRally], rally_url: RallyUrl, notes: Notes = no_notes
) -> bytes:
    """One row a rally, under the header (CSV_COLUMNS), with a byte order mark."""
    part = csv_row(rally_url, notes)
    return CSV_LAYOUT.head + b"".join(part(rally) for rally in rallies)
