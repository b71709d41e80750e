"""Consistent copies of the database while the site runs, and putting one back.

SQLite: the online backup API (a snapshot, taken page by page while others read and write).
PostgreSQL: pg_dump's custom format (one snapshot) and pg_restore. A copy holds organizers'
contacts until `purge` deletes them from the database and the old copies are gone: backup files
are written readable by their owner only.

Short-lived tables are copied empty (EPHEMERAL): rate-limit counters, failed log-ins, the
bot's chats in progress and its replies waiting to be sent (sealed chat ids, maybe a manage
link) are keyed by hashes of client addresses and chat ids, and have no use after their hour;
a backup that is kept for months must not hold them.

A restore never rewinds what clients keep (`high_water`, `advance`). Before it, the marks of
the database being replaced are read: the data version, the highest rally id ever given and
each rally's sequence. After it, every counter is raised past them: the data version (list
ETags), each rally's sequence (ICS SEQUENCE, the API's sequence, the rally's ETags and share
image URL: calendars and previews take the restored text as a new revision), the floor under
new rally ids (ids and calendar UIDs never repeat), and the data version gets a new random
epoch, part of every ETag, so even a restore into an empty database, whose marks are lost,
never answers a cached ETag with a 304. Raised counters rather than the epoch alone, because
calendars compare SEQUENCE as a number and know a rally by its id: only counters that keep
rising keep them right.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from mapapp.domain.models import PublishedRally, Rally, utcnow

EPHEMERAL = ("rate_limit", "login_failure", "telegram_chat", "telegram_reply")


class BackupError(RuntimeError):
    """A copy or a restore that could not be made; the message says why."""


def backup(engine: Engine, path: Path) -> Path:
    """Write a consistent copy of the database to `path` (mode 0600); returns the path."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    try:
        if engine.dialect.name == "sqlite":
            raw = engine.raw_connection()
            try:
                with sqlite3.connect(partial) as target:
                    raw.driver_connection.backup(target)
                    for table in EPHEMERAL:
                        target.execute(f"DELETE FROM {table}")  # noqa: S608 - our names
                target.execute("VACUUM")  # no deleted row left in a free page
                target.close()
            finally:
                raw.close()
        elif engine.dialect.name == "postgresql":
            _pg(
                "pg_dump",
                engine,
                [
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    *(f"--exclude-table-data={table}" for table in EPHEMERAL),
                    "-f",
                    str(partial),
                ],
            )
        else:
            raise BackupError(f"no backup for {engine.dialect.name}")
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


@dataclass
class Marks:
    """The highest values a database has given out (see `high_water`)."""

    version: int = 0
    rally_id: int = 0
    sequences: dict[int, int] = field(default_factory=dict)


def high_water(connection: Connection) -> Marks:
    """What the database has given out so far: the data version, the highest rally id (or
    the floor above it, or PostgreSQL's sequence) and each rally's highest sequence."""
    marks = Marks()
    marks.version = connection.execute(text("SELECT max(version) FROM data_version")).scalar() or 0
    ids = [connection.execute(text("SELECT max(id) FROM rally")).scalar() or 0]
    try:
        with connection.begin_nested():
            ids.append(connection.execute(text("SELECT max(id_floor) FROM data_version")).scalar())
    except SQLAlchemyError:
        pass  # a copy from before migration 0009
    if connection.dialect.name == "postgresql":
        ids.append(
            connection.execute(
                text("SELECT last_value FROM rally_id_seq")  # the SERIAL's own sequence
            ).scalar()
        )
    marks.rally_id = max(value or 0 for value in ids)
    for table in ("rally", "published_rally"):
        for rally_id, sequence in connection.execute(text(f"SELECT id, sequence FROM {table}")):  # noqa: S608
            marks.sequences[rally_id] = max(marks.sequences.get(rally_id, 0), sequence or 0)
    return marks


def advance(connection: Connection, before: Marks | None) -> None:
    """After a restore: raise every counter past the replaced database's marks and the
    restored ones, and give the data version a new epoch (see the module's note)."""
    before = before or Marks()
    restored = high_water(connection)
    floor = max(before.rally_id, restored.rally_id)
    version = max(before.version, restored.version) + 1
    epoch = secrets.token_hex(8)
    done = connection.execute(
        text("UPDATE data_version SET version = :v, epoch = :e, id_floor = :f WHERE id = 1"),
        {"v": version, "e": epoch, "f": floor},
    )
    if done.rowcount == 0:
        connection.execute(
            text("INSERT INTO data_version (id, version, epoch, id_floor) VALUES (1, :v, :e, :f)"),
            {"v": version, "e": epoch, "f": floor},
        )
    # Every restored rally a revision past any it had, here or in the replaced database.
    now = utcnow()
    raised = [
        {"rid": rally_id, "s": max(sequence, before.sequences.get(rally_id, 0)) + 1, "t": now}
        for rally_id, sequence in restored.sequences.items()
    ]
    if raised:
        rally, published = Rally.__table__, PublishedRally.__table__
        connection.execute(
            rally.update().where(rally.c.id == bindparam("rid")).values(sequence=bindparam("s")),
            raised,
        )
        connection.execute(
            published.update()
            .where(published.c.id == bindparam("rid"))
            .values(sequence=bindparam("s"), updated_at=bindparam("t")),
            raised,
        )
    if connection.dialect.name == "postgresql" and floor > 0:
        connection.execute(text("SELECT setval('rally_id_seq', :f)"), {"f": floor})


def restore(engine: Engine, path: Path, upgrade: Callable[[], None] | None = None) -> None:
    """Replace the database's contents with the copy at `path` (made by `backup`).

    `upgrade` brings a copy made by an older version up to the current schema; then the
    counters are raised past what the replaced database gave out (`advance`).
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        with engine.connect() as connection:
            before: Marks | None = high_water(connection)
    except SQLAlchemyError:
        before = None  # an empty or broken database: the new epoch still keeps ETags apart
    _restore(engine, path)
    if upgrade is not None:
        upgrade()
    with engine.begin() as connection:
        advance(connection, before)
    engine.dispose()


def _restore(engine: Engine, path: Path) -> None:
    if engine.dialect.name == "sqlite":
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            sound = source.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            sound = False
        if not sound:
            source.close()
            raise BackupError(f"{path} is not a sound SQLite database")
        with source:
            raw = engine.raw_connection()
            try:
                source.backup(raw.driver_connection)
            finally:
                raw.close()
        source.close()
    elif engine.dialect.name == "postgresql":
        _pg(
            "pg_restore",
            engine,
            [
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                str(path),
            ],
        )
    else:
        raise BackupError(f"no restore for {engine.dialect.name}")
    engine.dispose()  # pooled connections may hold the old schema's plans


def _pg(program: str, engine: Engine, arguments: list[str]) -> None:
    binary = shutil.which(program)
    if binary is None:
        raise BackupError(f"{program} is not installed (apt-get install postgresql-client)")
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where ps shows it
    libpq_url = url.set(drivername="postgresql", password=None).render_as_string()
    done = subprocess.run(  # noqa: S603 - fixed program, our arguments
        [binary, "--dbname", libpq_url, *arguments], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BackupError(f"{program} failed: {done.stderr.strip()[-500:]}")
