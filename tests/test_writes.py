"""Writes lose nothing: several writers on one SQLite file, big imports, dropped connections."""

from __future__ import annotations

import multiprocessing
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import fresh_postgres, make_app
from sqlalchemy import create_engine, func, select, text
from werkzeug.security import generate_password_hash

from mapapp import create_app, db, lifecycle
from mapapp.importer import Row, write_rows
from mapapp.models import AuditEntry, Moderator, Rally, Status

ROUNDS = 12


def writer_app(url: str):  # noqa: ANN201
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def submitter(url: str, name: str, results) -> None:  # noqa: ANN001
    """Submit ROUNDS rallies through the form; report the titles acknowledged with a 303."""
    app = writer_app(url)
    client = app.test_client()
    acknowledged, failures = [], []
    day = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%d")
    for number in range(ROUNDS):
        title = f"Пікет {name} {number}"
        data = {
            "title": title,
            "town": "Гродно",
            "place": "Савецкая плошча",
            "date": day,
            "time": "19:00",
            "description": "Апісанне",
            "contact": "organizer@example.org",
            "website": "",
            "step": "confirm",
            "lat": "53.6778",
            "lon": "23.8297",
            "geonameid": "",
        }
        try:
            sent = client.post("/submit", data=data)
            if sent.status_code == 303:
                acknowledged.append(title)
            else:
                failures.append(f"{sent.status_code}: {sent.get_data(as_text=True)[:200]}")
        except Exception as error:  # noqa: BLE001 - reported to the test
            failures.append(repr(error))
    results.put((name, acknowledged, failures))


def moderator(url: str, name: str, results) -> None:  # noqa: ANN001
    """Log in, then approve and cancel whatever is pending, as fast as it comes."""
    app = writer_app(url)
    client = app.test_client()
    failures = []
    login = client.post("/moderate/login", data={"name": "mod", "password": "a long password"})
    if login.status_code != 303:
        failures.append(f"login {login.status_code}")
    deadline = time.monotonic() + 60
    handled = 0
    while handled < ROUNDS * 2 and time.monotonic() < deadline:
        page = client.get("/moderate").get_data(as_text=True)
        ids = sorted(
            {
                int(i)
                for i in re.findall(r'class="rally-title" href="/moderate/rallies/(\d+)"', page)
            }
        )
        if not ids:
            time.sleep(0.05)
            continue
        for rally_id in ids[:3]:
            action = "approve" if rally_id % 3 else "cancel"
            try:
                answer = client.post(f"/moderate/rallies/{rally_id}/{action}")
                if answer.status_code >= 500:
                    failures.append(f"{answer.status_code}")
            except Exception as error:  # noqa: BLE001 - reported to the test
                failures.append(repr(error))
            handled += 1
    results.put((name, [], failures))


def test_four_processes_submit_and_moderate_one_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    app = make_app(url)
    with app.app_context():
        session = db.session(write=True)
        session.add(Moderator(name="mod", password_hash=generate_password_hash("a long password")))
        session.commit()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=submitter, args=(url, "a", results)),
        context.Process(target=submitter, args=(url, "b", results)),
        context.Process(target=moderator, args=(url, "m1", results)),
        context.Process(target=moderator, args=(url, "m2", results)),
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(30)
    failures = [failure for _, _, found in reports for failure in found]
    assert failures == []
    acknowledged = [title for _, titles, _ in reports for title in titles]
    assert len(acknowledged) == 2 * ROUNDS
    with app.app_context():
        stored = db.session().scalars(select(Rally.title)).all()
        moderated = db.session().scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action != "submit")
        )
    assert sorted(stored) == sorted(acknowledged)
    assert moderated > 0


def test_sqlite_writers_begin_immediate(app) -> None:
    """A request that posts holds the write lock from its first read: no lost race later."""
    with app.test_request_context("/submit", method="POST"):
        session = db.session()
        session.execute(select(func.count(Rally.id)))
        raw = session.connection().connection.dbapi_connection
        assert raw.in_transaction
        # Another connection cannot start writing while this one holds the lock.
        other = create_engine(app.config["DATABASE_URL"], connect_args={"timeout": 0})
        with other.connect() as connection, pytest.raises(Exception, match="locked"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        other.dispose()
    with app.test_request_context("/", method="GET"):
        session = db.session()
        session.execute(select(func.count(Rally.id)))
        other = create_engine(app.config["DATABASE_URL"], connect_args={"timeout": 0})
        with other.connect() as connection:  # a reader takes no lock
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.exec_driver_sql("ROLLBACK")
        other.dispose()


def import_rows(count: int) -> list[Row]:
    starts = datetime(2030, 5, 1, 16, tzinfo=UTC)
    return [
        Row(
            line + 2,
            {
                "title": f"Імпарт {line}",
                "description": "",
                "town": "Мінск",
                "geonameid": 625144,
                "place": "",
                "region": "BY-HM",
                "lat": 53.9,
                "lon": 27.56,
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=2),
                "status": Status.APPROVED.value,
                "contact": None,
            },
        )
        for line in range(count)
    ]


def test_an_import_that_fails_halfway_leaves_nothing(app) -> None:
    done = []

    def progress(count: int) -> None:
        done.append(count)
        if len(done) == 3:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C, or the disk filled up

    with app.app_context(), pytest.raises(KeyboardInterrupt):
        write_rows(db.session(write=True), import_rows(250), progress, batch_size=50, pause=0)
    with app.app_context():
        assert db.session().scalar(select(func.count(Rally.id))) == 0
        assert db.session().scalar(select(func.count(AuditEntry.id))) == 0


def test_a_big_import_lets_submissions_through(app) -> None:
    """Between the import's batches a submission gets the write lock within a second."""
    rows = import_rows(3000)
    finished = threading.Event()

    def run_import() -> None:
        with app.app_context():
            write_rows(db.session(write=True), rows, batch_size=300, pause=0.1)
        finished.set()

    importer = threading.Thread(target=run_import)
    importer.start()
    waits = []
    try:
        while not finished.is_set():
            with app.test_request_context("/submit", method="POST"):
                start = time.monotonic()
                fields = import_rows(1)[0].fields | {"title": "Пікет"}
                fields.pop("status")
                lifecycle.submit(db.session(), fields)
                waits.append(time.monotonic() - start)
            time.sleep(0.2)
    finally:
        importer.join()
    assert len(waits) >= 3 and max(waits) < 2, waits
    with app.app_context():
        assert db.session().scalar(select(func.count(Rally.id))) == 3000 + len(waits)


def test_a_submission_is_one_transaction(app, monkeypatch) -> None:
    """A failure (or a killed worker) between the rally and its audit entry leaves no half rally."""

    def broken_audit(*_args, **_kwargs) -> None:
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(lifecycle, "audit", broken_audit)
    fields = import_rows(1)[0].fields
    fields.pop("status")
    with app.test_request_context("/submit", method="POST"), pytest.raises(RuntimeError):
        lifecycle.submit(db.session(), fields)
    with app.app_context():
        assert db.session().scalar(select(func.count(Rally.id))) == 0


@pytest.mark.postgres
def test_postgres_connections_killed_under_load_are_replaced() -> None:
    """pg_terminate_backend on every connection of the app (as a restart does): no error."""
    url = fresh_postgres()
    app = make_app(url)
    client = app.test_client()
    assert client.get("/api/rallies.geojson").status_code == 200  # a pooled connection exists
    admin = create_engine(db.normalise_url(url), isolation_level="AUTOCOMMIT")
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        local = app.test_client()
        while not stop.is_set():
            try:
                statuses.append(local.get("/healthz").status_code)
            except Exception:  # noqa: BLE001 - a request on a connection as it was killed
                statuses.append(500)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    killed = 0
    try:
        for _ in range(3):
            time.sleep(0.5)
            with admin.connect() as connection:
                killed += connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
        time.sleep(0.5)
        after = len(statuses)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    admin.dispose()
    # A request in flight on a connection as it is killed may fail once (503 from /healthz);
    # every later one gets a fresh connection: the app never needs a restart.
    assert killed >= 3
    assert statuses[after:] and set(statuses[after:]) == {200}
    assert client.get("/api/rallies.geojson").status_code == 200
    with app.test_request_context("/submit", method="POST"):
        fields = import_rows(1)[0].fields
        fields.pop("status")
        rally, _ = lifecycle.submit(db.session(), fields)
    with app.app_context():
        assert db.session().get(Rally, rally.id) is not None
    app.extensions["mapapp.db"]["engine"].dispose()
