"""Writes lose nothing: several writers on one SQLite file, big imports, dropped connections."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, fresh_postgres, make_app
from flask import g
from sqlalchemy import create_engine, event, func, select, text
from werkzeug.security import generate_password_hash

from mapapp import create_app
from mapapp.domain import db, lifecycle
from mapapp.domain.importer import Row, write_rows
from mapapp.domain.models import AuditEntry, Moderator, Rally, Status

ROUNDS = 12


def writer_app(url: str):  # noqa: ANN201
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "PENDING_LIMIT": 100000,  # these tests submit hundreds (tests/test_queue_limit.py)
            "SECOND_FACTOR": "optional",  # a password logs in (tests/test_second_factor.py)
            # No preparation in a child and its thread outliving the test (as conftest's apps).
            "PREPARE_DOCUMENTS": False,
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
                for i in re.findall(r'class="rally-title" href="/moderate/rallies/(\d+)[?"]', page)
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
    """Between the import's batches a submission gets the write lock: it is stored while the
    import is half done (in one transaction it would wait for all of it)."""
    rows = import_rows(3000)
    finished = threading.Event()

    def run_import() -> None:
        with app.app_context():
            write_rows(db.session(write=True), rows, batch_size=300, pause=0.1)
        finished.set()

    importer = threading.Thread(target=run_import)
    importer.start()
    imported_then = []  # rallies of the import stored when each submission was
    try:
        while not finished.is_set():
            with app.test_request_context("/submit", method="POST"):
                fields = import_rows(1)[0].fields | {"title": "Пікет"}
                fields.pop("status")
                rally, _ = lifecycle.submit(db.session(), fields)
                imported_then.append(
                    db.session().scalar(select(func.count(Rally.id)).where(Rally.id < rally.id))
                    - len(imported_then)
                )
            time.sleep(0.2)
    finally:
        importer.join()
    assert any(0 < count < 3000 for count in imported_then), imported_then
    with app.app_context():
        assert db.session().scalar(select(func.count(Rally.id))) == 3000 + len(imported_then)


def test_import_progress_counts_only_what_is_stored(app, sqlite_url) -> None:
    """The bar moves when a batch is committed: 100 % is reached with the last commit."""
    rows = import_rows(1000)
    other = create_engine(sqlite_url)  # another process's view of the file
    seen: list[tuple[int, int]] = []  # (reported so far, stored as others see it)

    def progress(count: int) -> None:
        reported = (seen[-1][0] if seen else 0) + count
        with other.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM rally")).scalar()
        seen.append((reported, stored))

    with app.app_context():
        assert write_rows(db.session(write=True), rows, progress, batch_size=200, pause=0) == 1000
    other.dispose()
    assert [reported for reported, _ in seen] == [200, 400, 600, 800, 1000]
    assert all(reported == stored for reported, stored in seen), seen


def write_import_csv(path, count: int) -> None:  # noqa: ANN001
    starts = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()
    lines = ["title,city,place,starts_at,description,lat,lon,status,contact"]
    lines += [
        f"Імпарт {n},Гродна,Савецкая плошча,{starts},Пікет,53.6778,23.8297,approved,"
        for n in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_import_command_of_5000_rows_lets_the_form_store_submissions_meanwhile(tmp_path) -> None:
    """`flask import-rallies` in its own process, people submitting through the form in
    another: every submission is acknowledged (303, no "database is locked") and stored,
    some while the import is half done, and the import itself is whole."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    make_app(url).extensions["mapapp.db"]["engine"].dispose()  # the schema
    write_import_csv(tmp_path / "big.csv", 5000)
    env = dict(os.environ, MAPAPP_DATABASE_URL=url, MAPAPP_SECRET_KEY="test")
    importer = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "flask", "--app", "mapapp", "import-rallies", "big.csv"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    app = writer_app(url)
    client = app.test_client()
    other = create_engine(url)
    answers, imported_then = [], []
    day = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%d")
    while importer.poll() is None:
        title = f"Пікет падчас імпарту {len(answers)}"
        form = {
            "title": title, "town": "Гродно", "place": "Савецкая плошча", "date": day,
            "time": "19:00", "description": "", "contact": "", "website": "",
            "step": "confirm", "lat": "53.6778", "lon": "23.8297", "geonameid": "",
        }  # fmt: skip
        sent = client.post("/submit", data=form)
        answers.append((title, sent.status_code, sent.get_data(as_text=True)[:300]))
        with other.connect() as connection:
            imported_then.append(
                connection.execute(
                    text("SELECT count(*) FROM rally WHERE title LIKE 'Імпарт %'")
                ).scalar()
            )
        time.sleep(0.2)
    output = importer.communicate()[0]
    other.dispose()
    assert importer.returncode == 0, output
    assert "Imported 5000 rallies." in output
    assert [a for a in answers if a[1] != 303] == []
    # Submitted while the import was writing, not only before or after it.
    assert any(0 < count < 5000 for count in imported_then), imported_then
    with app.app_context():
        titles = set(db.session().scalars(select(Rally.title)))
    assert {title for title, _, _ in answers} <= titles
    assert sum(1 for title in titles if title.startswith("Імпарт ")) == 5000
    app.extensions["mapapp.db"]["engine"].dispose()


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
    try:
        killed = kill_connections(admin, 3, 0.5)
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


@pytest.mark.postgres
def test_a_reading_connection_lost_is_a_503_before_the_reads_and_no_error_after() -> None:
    """The server drops a GET's reading connection (a restart). Before its reads: a 503 that
    asks to come back (the data version is read on the driver's own cursor, whose error
    SQLAlchemy never wrapped: a 500). After them: the answer made stands (closing the
    connection at the end failed its rollback: a 500 for a page already made)."""
    url = fresh_postgres()
    app = make_app(url)
    admin = create_engine(db.normalise_url(url), isolation_level="AUTOCOMMIT")
    kill = {"when": None}

    def terminate(connection) -> None:  # noqa: ANN001
        pid = connection.connection.dbapi_connection.info.backend_pid
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    @event.listens_for(app.extensions["mapapp.db"]["engine"], "engine_connect")
    def before_the_reads(connection) -> None:  # noqa: ANN001 - checked out, pre-pinged
        if kill["when"] == "before":
            terminate(connection)

    @app.after_request
    def after_the_reads(response):  # noqa: ANN001, ANN202
        if kill["when"] == "after":
            terminate(g.db_reader)
        return response

    client = app.test_client()
    rally_id = add_rally(app)
    for path in ("/api/rallies.geojson", "/rallies", "/rallies.ics", f"/rallies/{rally_id}.ics"):
        etag = client.get(path).headers["ETag"]
        for held in ({}, {"If-None-Match": etag}):
            answered = client.get(path, headers=held).status_code
            kill["when"] = "before"
            assert client.get(path, headers=held).status_code == 503, (path, held)
            kill["when"] = "after"
            assert client.get(path, headers=held).status_code == answered, (path, held)
            kill["when"] = None
            assert client.get(path, headers=held).status_code == answered, (path, held)
    admin.dispose()
    app.extensions["mapapp.db"]["engine"].dispose()


def kill_connections(admin, times: int, pause: float) -> int:  # noqa: ANN001
    """End every other connection to the database `times` times, `pause` s apart, as a server
    restart does (pg_terminate_backend); how many were ended."""
    killed = 0
    for _ in range(times):
        time.sleep(pause)
        with admin.connect() as connection:
            killed += connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    return killed


def submit_through_form(client, title: str) -> int:  # noqa: ANN001
    """POST a whole rally through the form (CSRF off); the status code."""
    day = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%d")
    form = {
        "title": title, "town": "Гродно", "place": "Савецкая плошча", "date": day,
        "time": "19:00", "description": "", "contact": "", "website": "",
        "step": "confirm", "lat": "53.6778", "lon": "23.8297", "geonameid": "",
    }  # fmt: skip
    return client.post("/submit", data=form).status_code


@pytest.mark.postgres
def test_postgres_restarted_under_submissions_loses_nothing_acknowledged() -> None:
    """Every connection of the app killed three times (as a restart does) while three threads
    submit through the form: an answer is 303 (stored) or 503 (say so, try again), never a
    500; every 303 is stored; after the restart every submission goes through."""
    url = fresh_postgres()
    make_app(url).extensions["mapapp.db"]["engine"].dispose()  # the schema
    app = writer_app(url)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # errors answered as in production
    admin = create_engine(db.normalise_url(url), isolation_level="AUTOCOMMIT")
    answers: list[tuple[str, int]] = []
    stop = threading.Event()

    def submitting(name: str) -> None:
        client = app.test_client()
        number = 0
        while not stop.is_set():
            title = f"Пікет {name} {number}"
            number += 1
            answers.append((title, submit_through_form(client, title)))

    threads = [threading.Thread(target=submitting, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    try:
        killed = kill_connections(admin, 3, 0.7)
        time.sleep(0.5)
        after = len(answers)
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    admin.dispose()
    assert killed >= 3
    assert {status for _, status in answers} <= {303, 503}, answers
    assert answers[after:] and {status for _, status in answers[after:]} == {303}
    acknowledged = {title for title, status in answers if status == 303}
    with app.app_context():
        stored = set(db.session().scalars(select(Rally.title)))
    assert acknowledged <= stored
    app.extensions["mapapp.db"]["engine"].dispose()


def submit_and_die(url: str) -> None:
    """A worker that is SIGKILLed in the middle of a submission: after the rally's row is
    written, before its audit entry and the commit."""
    app = writer_app(url)

    def killed(*_args, **_kwargs) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    lifecycle.audit = killed
    submit_through_form(app.test_client(), "Пікет, які не дайшоў")


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_worker_killed_mid_submission_leaves_no_half_rally(database, sqlite_url) -> None:
    url = fresh_postgres() if database == "postgresql" else sqlite_url
    app = make_app(url)
    worker = multiprocessing.get_context("spawn").Process(target=submit_and_die, args=(url,))
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL
    with app.app_context():
        assert db.session().scalar(select(func.count(Rally.id))) == 0
        assert db.session().scalar(select(func.count(AuditEntry.id))) == 0
    # Nothing is left locked: the next submission goes through.
    after = writer_app(url)
    assert submit_through_form(after.test_client(), "Пікет пасля") == 303
    after.extensions["mapapp.db"]["engine"].dispose()
    with app.app_context():
        assert db.session().scalars(select(Rally.title)).all() == ["Пікет пасля"]
    app.extensions["mapapp.db"]["engine"].dispose()
