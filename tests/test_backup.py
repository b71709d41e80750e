"""backup and restore: a consistent copy while the app runs, and its round trip, on both databases."""

import stat
import threading

from conftest import add_rally
from sqlalchemy import select

from mapapp.domain import db
from mapapp.domain.models import Approval, Moderator, Rally


def titles(app):
    with app.app_context():
        return sorted(db.session().scalars(select(Rally.title)))


def test_backup_and_restore_round_trip(db_app, tmp_path):
    before = add_rally(db_app, title="Before the copy", contact="org@example.org")
    runner = db_app.test_cli_runner()
    with db_app.app_context():  # a first approval waiting for a second moderator
        session = db.session(write=True)
        session.add(Moderator(name="alesia", password_hash="-"))
        session.flush()
        session.add(Approval(rally_id=before, action="cancel", sequence=0, moderator_id=1))
        session.commit()
    path = tmp_path / "copy.backup"

    # Writers keep writing while the copy is made: the copy is one consistent moment.
    stop = threading.Event()
    written = []

    def keep_writing() -> None:
        while not stop.is_set() and len(written) < 30:
            written.append(add_rally(db_app, title=f"During {len(written)}"))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = runner.invoke(args=["backup", str(path)])
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds contacts
    assert not path.with_name(path.name + ".partial").exists()

    add_rally(db_app, title="After the copy")
    with db_app.app_context():
        session = db.session(write=True)
        session.delete(session.scalars(select(Rally).where(Rally.title == "Before the copy")).one())
        session.commit()

    result = runner.invoke(args=["restore", "--yes", str(path)])
    assert result.exit_code == 0, result.output
    restored = titles(db_app)
    assert "Before the copy" in restored and "After the copy" not in restored
    during = [title for title in restored if title.startswith("During ")]
    # A prefix of what was written: every rally up to the moment of the copy, none missing.
    assert during == sorted(f"During {n}" for n in range(len(during)))
    with db_app.app_context():
        kept = db.session().scalars(select(Rally).where(Rally.title == "Before the copy")).one()
        assert kept.contact == "org@example.org"
        [waiting] = db.session().scalars(select(Approval)).all()
        assert (waiting.rally_id, waiting.action) == (kept.id, "cancel")
    # The app answers from the restored data without a restart.
    assert db_app.test_client().get("/healthz").status_code == 200


def test_restore_refuses_what_is_not_a_copy(db_app, tmp_path):
    add_rally(db_app, title="Still here")
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    result = db_app.test_cli_runner().invoke(args=["restore", "--yes", str(junk)])
    assert result.exit_code != 0
    assert "Error:" in result.output
    assert titles(db_app) == ["Still here"]
