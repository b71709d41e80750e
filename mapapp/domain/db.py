"""Database engine and sessions (SQLAlchemy 2), one session per app context.

SQLite is the default: a file in instance/, in WAL mode with a busy timeout so
several gunicorn workers can read while one writes. PostgreSQL by URL (psycopg).

Writers take SQLite's write lock first (`BEGIN IMMEDIATE`): a transaction that reads and
then writes would otherwise fail at once with "database is locked" when another worker
wrote in between, whatever the busy timeout. Every request that may change data (any
method but GET, HEAD, OPTIONS) and every `session(write=True)` gets such transactions;
readers never wait for writers (WAL).

A request that only reads reads on one connection (`reader`), in one transaction: on
PostgreSQL REPEATABLE READ, so the data version and the rows read after it are one snapshot
(SQLite's read transactions are one already). A revalidation (a 304) needs nothing more than
that connection; a session, when the request needs one, is opened on it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def normalise_url(url: str) -> str:
    """Accept the URL forms hosting platforms hand out and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def owner_only(path: str) -> None:
    """The database file (and its -wal and -shm) readable by its owner only: they hold
    pending rallies and sealed contacts. SQLite gives the -wal and -shm files it creates the
    database file's mode."""
    if not path:
        return  # an in-memory database
    for name in (path, f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(OSError):  # gone, or not ours to change
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


def _folded(fold: Callable[[str], str], value: object) -> object:
    """SQLite's lower()/upper() for every script: text folded, anything else as it was
    (NULL stays NULL, a number or blob is returned unchanged, as SQLite's own do with text)."""
    return fold(value) if isinstance(value, str) else value


def make_engine(url: str) -> Engine:
    """An engine for a URL. Its errors never quote the values of a statement (contacts,
    places): hide_parameters."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            # pysqlite's own BEGIN (deferred, only before a write) is switched off: the begin
            # event below starts every transaction itself (SQLAlchemy's pysqlite recipe).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            owner_only(cursor.execute("PRAGMA database_list").fetchone()[2])
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows (expired counters, purged texts) are overwritten with zeros, not
            # left in free pages for a seized disk to read.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()
            # SQLite's own lower()/upper() (and so ILIKE, which SQLAlchemy writes as lower()
            # LIKE lower()) change ASCII letters only: "МІНСК" would not find "Мінск". Python's
            # fold every letter, as PostgreSQL's do in a UTF-8 locale.
            for name, fold in (("lower", str.lower), ("upper", str.upper)):
                dbapi_connection.create_function(
                    name, 1, functools.partial(_folded, fold), deterministic=True
                )

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:  # noqa: ANN001
            mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # pool_pre_ping: a connection the server dropped (restart, pg_terminate_backend) is
    # replaced before use instead of failing the request.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def writer(engine: Engine) -> Engine:
    """The same engine (and pool) whose SQLite transactions begin IMMEDIATE."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def reading(engine: Engine) -> Engine:
    """The same engine (and pool) whose transactions are one snapshot: REPEATABLE READ on
    PostgreSQL (read-only transactions never fail to serialise), SQLite's own otherwise. On
    PostgreSQL they are READ ONLY too: a write there (which its request could not keep) is
    refused by the server, whatever SQLAlchemy layer it came through."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return engine


class ReadOnlySessionError(RuntimeError):
    """A GET request's session was asked to write without session(write=True)."""


def refuse_writes(db_session: Session, _context: object, _instances: object) -> None:
    """before_flush of a GET request's session, while it runs on the reader: its commit
    would not end the reader's transaction, so a write there would be lost. Writes ask
    session(write=True), which moves the session to the writer (and lets them through)."""
    if isinstance(db_session.bind, Connection) and (
        db_session.new or db_session.dirty or db_session.deleted
    ):
        raise ReadOnlySessionError("a reading session does not write: use session(write=True)")


def init_app(app: Flask) -> None:
    url = app.config.get("DATABASE_URL")
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(app.instance_path) / 'mapapp.sqlite3'}"
        app.config["DATABASE_URL"] = url
    engine = make_engine(url)
    reading_sessionmaker = sessionmaker(expire_on_commit=False)
    event.listen(reading_sessionmaker, "before_flush", refuse_writes)
    app.extensions["mapapp.db"] = {
        "engine": engine,
        "sessionmaker": sessionmaker(engine, expire_on_commit=False),
        "reading_sessionmaker": reading_sessionmaker,
        "writer": writer(engine),
        "reader": reading(engine),
    }
    app.teardown_appcontext(close_session)


def engine() -> Engine:
    return current_app.extensions["mapapp.db"]["engine"]


def writing_engine() -> Engine:
    """The engine whose transactions write (see `writer`): for a short write of its own."""
    return current_app.extensions["mapapp.db"]["writer"]


def session(write: bool = False) -> Session:
    """The session of the current app context, opened on first use.

    write: the caller reads and then writes (commands; requests other than GET, HEAD and
    OPTIONS always do), so its SQLite transactions take the write lock at their start. A
    reading session asked to write commits its (read-only) transaction and becomes a writer.
    """
    state = current_app.extensions["mapapp.db"]
    write = write or (has_request_context() and request.method not in READ_ONLY_METHODS)
    if "db_session" not in g:
        if write:
            g.db_session = state["sessionmaker"](bind=state["writer"])
        elif has_request_context():  # on the reader: the snapshot of a version read before
            g.db_session = state["reading_sessionmaker"](bind=reader())
        else:  # a command or the worker: commits its own transactions
            g.db_session = state["sessionmaker"](bind=state["engine"])
    elif (
        write
        and g.db_session.bind is not state["writer"]
        and not (g.db_session.new or g.db_session.dirty or g.db_session.deleted)
    ):
        g.db_session.commit()  # ends the deferred transaction (nothing to write)
        g.db_session.bind = state["writer"]
        close_reader()  # its snapshot is older than what this session will write
    return g.db_session


def reader() -> Connection:
    """The current app context's reading connection, opened on first use: one transaction
    (one snapshot, see `reading`) until the context ends. Cheaper than a session: a 304 reads
    the data version on it and nothing more. A reading session() runs on it."""
    if "db_reader" not in g:
        if "db_session" in g:  # a session opened first: its connection is the reader
            return g.db_session.connection()
        g.db_reader = current_app.extensions["mapapp.db"]["reader"].connect()
    return g.db_reader


def driver_error(connection: Connection, error: Exception, cursor: object) -> DBAPIError:
    """The database driver's own error (from its cursor, which SQLAlchemy never sees) as
    SQLAlchemy raises its statements' errors: wrapped, so a lost connection is an
    OperationalError (a 503 in mapapp.web.errors, not a 500), and the connection invalidated
    when the server dropped it, so that closing it does not fail as well."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    return DBAPIError.instance(
        None, None, error, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


def close_quietly(resource: Session | Connection) -> None:
    """Close at the end of a request. A connection the server dropped after the request read
    what it needed (a restart, pg_terminate_backend) fails its rollback here; nothing is lost
    (requests commit before they answer) and the pool has let it go, so the answer stands
    instead of turning into a 500."""
    try:
        resource.close()
    except OperationalError as error:
        current_app.logger.warning(
            "A database connection was lost at the end of a request (%s)",
            type(error.orig).__name__,
        )


def close_reader() -> None:
    connection = g.pop("db_reader", None)
    if connection is not None:
        close_quietly(connection)


def close_session(_exc: BaseException | None = None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        close_quietly(db_session)
    close_reader()


def forget_deleted() -> None:
    """After a purge: nothing deleted stays readable in SQLite's files.

    Deleted rows are overwritten in place (secure_delete), but their old pages stay in the
    write-ahead log until a checkpoint: this copies the log into the database and truncates
    it to nothing. (PostgreSQL: VACUUM frees the dead rows' space; their bytes may stay on
    disk until it is reused, so keep its disk encrypted.)
    """
    an_engine = engine()
    if an_engine.dialect.name != "sqlite":
        return
    close_session()
    with an_engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def ping() -> bool:
    """A cheap check that the database answers, for /healthz."""
    return ping_engine(engine())


def ping_engine(an_engine: Engine) -> bool:
    with an_engine.connect() as connection:
        return connection.execute(text("SELECT 1")).scalar() == 1


# The tables bulk commands fill (demo-data, import-rallies, prepare-parts, restore), whose
# reads PostgreSQL plans from its statistics of them.
BULK_TABLES = ("rally", "published_rally", "published_part", "published_chunk")


def analyze() -> None:
    """Refresh PostgreSQL's planner statistics of BULK_TABLES, after a command that wrote many
    rows (nothing on SQLite, whose plans these reads do not depend on).

    Without statistics (a table never analyzed: autovacuum off, or not yet come round after
    a load, or a restore, whose copy has none) PostgreSQL read the parts of 2,000 rallies by
    their key with a bitmap of the whole context, 100,000 rows, and threw away 98,000 of
    them: 1.1 s a batch at 100,000 rallies, so a worker's first calendar of a region's
    months took 8-13 s right after a deploy. With them: an index lookup a rally, 10-90 ms.
    """
    an_engine = writing_engine()
    if an_engine.dialect.name != "postgresql":
        return
    with an_engine.begin() as connection:
        connection.execute(text("ANALYZE " + ", ".join(BULK_TABLES)))


def alembic_config(connection=None):  # noqa: ANN001, ANN201
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade_schema() -> None:
    """Create or upgrade the schema to the newest migration (keeps data)."""
    from alembic import command

    with engine().begin() as connection:
        command.upgrade(alembic_config(connection), "head")
