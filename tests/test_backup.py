"""backup and restore: a consistent copy while the app runs, and its round trip, on both databases."""

import re
import stat
import threading

from conftest import add_rally
from sqlalchemy import select

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Approval, Moderator, PublishedDocument, Rally
from mapapp.publishing import public
from mapapp.web import caching


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
    # The restored data's common documents are prepared for every worker (the first
    # calendar after a restore was joined from parts: 0.3 s at 2,000 rallies).
    assert "common documents prepared" in result.output
    with db_app.app_context():
        version = public.data_version(db.session())
        kept = db.session().scalars(select(PublishedDocument.key)).all()
        current = (
            db.session()
            .scalars(select(PublishedDocument.key).where(PublishedDocument.version == version))
            .all()
        )
    assert len(current) == len(kept) >= len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)


def test_restore_refuses_what_is_not_a_copy(db_app, tmp_path):
    add_rally(db_app, title="Still here")
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    result = db_app.test_cli_runner().invoke(args=["restore", "--yes", str(junk)])
    assert result.exit_code != 0
    assert "Error:" in result.output
    assert titles(db_app) == ["Still here"]


def seen(client, rally_id: int) -> dict[str, str]:
    """What a client keeps of a rally: its outputs' ETags, its calendar UID and SEQUENCE,
    the API's sequence and its share image's address."""
    from icalendar import Calendar

    kept = {}
    for path in (
        "/api/rallies.geojson",
        "/api/rallies.geojson?fields=map",
        "/rallies.ics",
        "/rallies",
        f"/api/rallies/{rally_id}",
        f"/rallies/{rally_id}.ics",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        kept[path] = response.headers["ETag"]
    event = Calendar.from_ical(client.get(f"/rallies/{rally_id}.ics").data).walk("VEVENT")[0]
    kept["uid"], kept["SEQUENCE"] = str(event["UID"]), int(event["SEQUENCE"])
    kept["sequence"] = client.get(f"/api/rallies/{rally_id}").get_json()["sequence"]
    page = client.get(f"/rallies/{rally_id}").get_data(as_text=True)
    kept["image"] = re.search(r'property="og:image" content="([^"]+)"', page).group(1)
    return kept


def test_a_restore_then_new_changes_repeat_no_id_uid_sequence_or_etag(db_app, tmp_path):
    """Clients cached what the site said after the copy; the restore rewinds the data, and
    the changes after it must still look new to every one of them."""
    client = db_app.test_client()
    kept_id = add_rally(db_app, title="Kept through the restore")
    path = tmp_path / "copy.backup"
    assert db_app.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0

    # After the copy: a new rally, a change; readers cache every output of both.
    lost_id = add_rally(db_app, title="Made after the copy")
    with db_app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, kept_id), "moderator:m", "danger")
    cached = [seen(client, kept_id), seen(client, lost_id)]

    result = db_app.test_cli_runner().invoke(args=["restore", "--yes", str(path)])
    assert result.exit_code == 0, result.output
    restored = seen(client, kept_id)  # the restored text is a new revision too
    # New changes after the restore: a new rally, the kept one changed again.
    new_id = add_rally(db_app, title="Made after the restore")
    with db_app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, kept_id), "moderator:m", "cancel")
    after = [restored, seen(client, kept_id), seen(client, new_id)]

    assert new_id > lost_id  # never an id given before
    old_etags = {value for kept in cached for key, value in kept.items() if key.startswith("/")}
    for now in after:
        assert now["uid"] not in {cached[1]["uid"]}
        for key, value in now.items():
            if key.startswith("/"):
                assert value not in old_etags, key
        assert now["image"] not in {kept["image"] for kept in cached}
    for now in after[:2]:  # the kept rally: calendars and the API see a higher revision
        assert now["SEQUENCE"] > cached[0]["SEQUENCE"]
        assert now["sequence"] > cached[0]["sequence"]
    assert after[1]["SEQUENCE"] > after[0]["SEQUENCE"]
    # A reader's conditional GET with an ETag from before the restore gets the new body.
    for key, value in cached[0].items():
        if key.startswith("/"):
            assert client.get(key, headers={"If-None-Match": value}).status_code == 200, key
