"""Reading rallies from CSV (the import-rallies command): all rows or none.

Every row is checked before anything is written; then the rows are written in short
batches (write_rows), so a big import never holds the database for long.

Header: title,city,place,starts_at,description,lat,lon,status,contact[,reveal_at]
starts_at is ISO 8601; without an offset it is Minsk time. Empty lat/lon: geocoded from
place and city. status is approved or pending (default pending). contact is private.
reveal_at (optional last column, ISO 8601, naive = Minsk): until then the public sees the
town only; empty = public at once.
"""

from __future__ import annotations

import csv
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mapapp.domain import lifecycle, rules
from mapapp.domain.models import AuditEntry, PublishedRally, Rally, Status, TelegramOutbox, utcnow
from mapapp.places.locale import MINSK
from mapapp.places.search import Gazetteer

HEADER = ["title", "city", "place", "starts_at", "description", "lat", "lon", "status", "contact"]
OPTIONAL = ["reveal_at"]  # may follow HEADER as the last column
# Each column's rule in mapapp.domain.rules (the form's rules: lengths, one line, characters).
TEXT_RULES = {
    "title": "title",
    "city": "town",
    "place": "place",
    "description": "description",
    "contact": "contact",
}


class ImportError_(ValueError):  # noqa: N801 - not the builtin
    """A file that cannot be imported; .problems lists each bad line and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Row:
    line: int
    fields: dict[str, Any] = field(default_factory=dict)


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=MINSK) if value.tzinfo is None else value


def read_rows(
    lines: Iterable[str],
    gazetteer: Gazetteer,
    geocode: Callable[[str], dict[str, Any]],
    progress: Callable[[int], None] = lambda n: None,
    now: datetime | None = None,
) -> list[Row]:
    """Check every row; raise ImportError_ listing all bad ones, or return them all.

    Each problem reads "line N: reason", N the file's line where the row starts (a quoted
    field may span lines). `now` (aware) is when start times are judged; default: now.
    """
    now = now or utcnow()
    reader = csv.DictReader(lines)
    names = [h.strip() for h in reader.fieldnames or []]
    if names not in (HEADER, HEADER + OPTIONAL):
        raise ImportError_(
            [f"line 1: the header must be exactly {','.join(HEADER)}[,{','.join(OPTIONAL)}]"]
        )
    reader.fieldnames = names
    rows: list[Row] = []
    problems: list[str] = []
    ended = reader.line_num  # the header's last line
    for record in reader:
        line, ended = ended + 1, reader.line_num
        try:
            rows.append(Row(line, check_row(record, gazetteer, geocode, now)))
        except (ValueError, ArithmeticError) as error:
            problems.append(f"line {line}: {error}")
        progress(1)
    if problems:
        raise ImportError_(problems)
    return rows


def check_row(
    record: dict[str, str | None],
    gazetteer: Gazetteer,
    geocode: Callable[[str], dict],
    now: datetime | None = None,
) -> dict[str, Any]:
    """One CSV record as Rally fields, by the same rules as the form (mapapp.domain.rules).

    Raises ValueError with the reason (English, for the command line).
    """
    if None in record or any(value is None for value in record.values()):
        raise ValueError("wrong number of columns")
    values = {k: rules.normalise(v or "") for k, v in record.items()}
    for column, rule in TEXT_RULES.items():
        problem = rules.field_problem(rule, values[column])
        if problem:
            raise ValueError(f"{column} {problem}")
    status = values["status"] or Status.PENDING.value
    if status not in (Status.APPROVED.value, Status.PENDING.value):
        raise ValueError(f"status must be approved or pending, not {status!r}")
    try:
        starts_at = parse_time(values["starts_at"])
    except ValueError:
        raise ValueError(f"starts_at {values['starts_at']!r} is not an ISO 8601 date") from None
    reveal_at = None
    if values.get("reveal_at"):
        try:
            reveal_at = parse_time(values["reveal_at"])
        except ValueError:
            raise ValueError(
                f"reveal_at {values['reveal_at']!r} is not an ISO 8601 date and time"
            ) from None
        if reveal_at > starts_at:
            raise ValueError("reveal_at is after starts_at: the place must be shown before")
    problem = rules.start_problem(
        starts_at, now or utcnow(), approved=status == Status.APPROVED.value
    )
    if problem:
        raise ValueError(f"starts_at {values['starts_at']!r}: {problem}")
    if values["lat"] or values["lon"]:
        try:
            lat, lon = float(values["lat"]), float(values["lon"])
        except ValueError:
            raise ValueError("lat and lon must both be decimal numbers") from None
    else:
        query = f"{values['place']}, {values['city']}" if values["place"] else values["city"]
        found = geocode(query)
        if "error" in found:
            found = geocode(values["city"])
        if "error" in found:
            raise ValueError(f"cannot find {values['city']!r}: give lat and lon")
        lat, lon = found["lat"], found["lon"]
    under = gazetteer.reverse(lat, lon)
    if under is None:
        raise ValueError(f"the point {lat}, {lon} is outside Belarus")
    town = gazetteer.by_name(values["city"]) or under.place
    return {
        "title": values["title"],
        "description": values["description"],
        "town": values["city"],
        "geonameid": town.geonameid,
        "place": values["place"],
        # The town's region, not the pin's: a hidden rally's region must not tell which side
        # of a region's border its place is on.
        "region": town.region or under.region,
        "lat": lat,
        "lon": lon,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "status": status,
        "contact": values["contact"] or None,
        "reveal_at": reveal_at,
    }


def write_rows(
    session: Session,
    rows: list[Row],
    progress: Callable[[int], None] = lambda n: None,
    batch_size: int = 200,
    pause: float = 0.1,
) -> int:
    """Store checked rows in short transactions; on any failure delete what was stored.

    One transaction for 50,000 rows held SQLite's write lock for half a minute, and people
    submitting meanwhile got "database is locked". Batches of `batch_size` rows each commit
    in a fraction of a second, with `pause` seconds between them for other writers (SQLite's
    busy handler retries every 100 ms at most). All or nothing is kept by deleting this
    import's rallies (found by the audit entries tagged with its id) when anything fails.
    Returns the number of rallies stored.
    """
    import_id = secrets.token_hex(8)
    tag = f"import {import_id}"
    stored = 0
    try:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            published = False
            for row in batch:
                fields = dict(row.fields)
                approved = fields.pop("status") == Status.APPROVED.value
                # Through lifecycle, like every rally: an approved one is published and
                # listeners (Telegram) hear of it in the same transaction.
                lifecycle.create(
                    session, fields, approved, actor="import", commit=False, detail=tag, bump=False
                )
                published = published or approved
            if published:
                lifecycle.bump_version(session)  # once a batch: one row, but read by everyone
            session.commit()
            stored += len(batch)
            progress(len(batch))
            if pause and stored < len(rows):
                time.sleep(pause)
    except BaseException:
        session.rollback()
        delete_import(session, import_id)
        raise
    return stored


def delete_import(session: Session, import_id: str) -> int:
    """Delete the rallies an interrupted import stored (and their audit entries)."""
    tag = f"import {import_id}"
    ids = session.scalars(
        select(AuditEntry.rally_id).where(
            AuditEntry.detail == tag, AuditEntry.action.in_(("import", "import_approved"))
        )
    ).all()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(delete(TelegramOutbox).where(TelegramOutbox.rally_id.in_(chunk)))
        session.execute(delete(AuditEntry).where(AuditEntry.rally_id.in_(chunk)))
        session.execute(delete(PublishedRally).where(PublishedRally.id.in_(chunk)))
        session.execute(delete(Rally).where(Rally.id.in_(chunk)))
        lifecycle.bump_version(session)  # what the public saw of them is gone again
        session.commit()
    return len(ids)
