"""Database engine and sessions (SQLAlchemy 2), one session per app context.

SQLite is the default: a file in instance/, in WAL mode with a busy timeout so
several gunicorn workers can read while one writes. PostgreSQL by URL (psycopg).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept the URL forms hosting platforms hand out and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for a URL. Its errors never quote the values of a statement (contacts,
    places): hide_parameters."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def init_app(app: Flask) -> None:
    url = app.config.get("DATABASE_URL")
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(app.instance_path) / 'mapapp.sqlite3'}"
        app.config["DATABASE_URL"] = url
    engine = make_engine(url)
    app.extensions["mapapp.db"] = {
        "engine": engine,
        "sessionmaker": sessionmaker(engine, expire_on_commit=False),
    }
    app.teardown_appcontext(close_session)


def engine() -> Engine:
    return current_app.extensions["mapapp.db"]["engine"]


def session() -> Session:
    """The session of the current app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["mapapp.db"]["sessionmaker"]()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


def ping() -> bool:
    """A cheap check that the database answers, for /healthz."""
    with engine().connect() as connection:
        return connection.execute(text("SELECT 1")).scalar() == 1


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
