"""Consistent copies of the database while the site runs, and putting one back.

SQLite: the online backup API (a snapshot, taken page by page while others read and write).
PostgreSQL: pg_dump's custom format (one snapshot) and pg_restore. A copy holds organizers'
contacts until `purge` deletes them from the database and the old copies are gone: backup files
are written readable by their owner only.

Short-lived tables are copied empty (EPHEMERAL): rate-limit counters, failed log-ins and the
bot's chats in progress are keyed by hashes of client addresses and chat ids, and have no use
after their hour; a backup that is kept for months must not hold them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

EPHEMERAL = ("rate_limit", "login_failure", "telegram_chat")


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


def restore(engine: Engine, path: Path) -> None:
    """Replace the database's contents with the copy at `path` (made by `backup`)."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
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
