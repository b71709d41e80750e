"""Contacts a seized server cannot read: encrypted at rest, rotated, refused without a key,
purged; rejected texts purged; a new manage link issued by a moderator."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CONTACT_KEY, add_rally, make_app
from cryptography.fernet import Fernet
from sqlalchemy import select, text, update
from test_sessions import csrf, log_in
from test_submit import submit

from mapapp import create_app
from mapapp.domain import db
from mapapp.domain.contacts import UNREADABLE
from mapapp.domain.lifecycle import hash_token
from mapapp.domain.models import AuditEntry, Rally

CONTACT = "telegram @hidden_organizer_4711"
PASSWORD = "correct horse battery"


def raw_database(sqlite_url: str) -> bytes:
    """Every byte SQLite keeps: the file, its write-ahead log and shared memory."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def stored_value(app, rally_id: int) -> str | None:
    with app.app_context(), db.engine().connect() as connection:
        return connection.execute(
            text("SELECT contact FROM rally WHERE id = :id"), {"id": rally_id}
        ).scalar()


def test_the_database_file_holds_no_contact(sqlite_url, client, app, monkeypatch):
    submit(client, contact=CONTACT)
    add_rally(app, contact=CONTACT + " (imported)")
    raw = raw_database(sqlite_url)
    assert raw  # the file was read
    assert CONTACT.encode() not in raw and b"hidden_organizer" not in raw
    with app.app_context():
        contacts = db.session().scalars(select(Rally.contact)).all()
    assert sorted(contacts) == [CONTACT, CONTACT + " (imported)"]  # the app reads them
    # and moderators see it
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    log_in(client)
    with app.app_context():
        pending = db.session().scalars(select(Rally.id).where(Rally.status == "pending")).one()
    assert CONTACT in client.get(f"/moderate/rallies/{pending}").get_data(as_text=True)


def test_a_backup_without_the_key_reveals_no_contact(sqlite_url, app):
    rally_id = add_rally(app, contact=CONTACT)
    assert stored_value(app, rally_id).startswith("fernet:")
    stranger = make_app(sqlite_url, CONTACT_KEY=Fernet.generate_key().decode())
    with stranger.app_context():
        assert db.session().get(Rally, rally_id).contact == UNREADABLE


def test_rotation_re_encrypts_every_contact(sqlite_url, app):
    rally_id = add_rally(app, contact=CONTACT)
    old_value = stored_value(app, rally_id)
    new_key = Fernet.generate_key().decode()
    both = make_app(sqlite_url, CONTACT_KEY=f"{new_key} {CONTACT_KEY}")
    result = both.test_cli_runner().invoke(args=["rotate-contact-key"])
    assert result.exit_code == 0 and "Encrypted 1 contacts" in result.output
    assert stored_value(app, rally_id) != old_value
    only_new = make_app(sqlite_url, CONTACT_KEY=new_key)
    with only_new.app_context():
        assert db.session().get(Rally, rally_id).contact == CONTACT
    with app.app_context():  # the old key alone no longer reads it
        assert db.session().get(Rally, rally_id).contact == UNREADABLE


def test_rotation_without_the_old_key_changes_nothing(sqlite_url, app):
    rally_id = add_rally(app, contact=CONTACT)
    before = stored_value(app, rally_id)
    wrong = make_app(sqlite_url, CONTACT_KEY=Fernet.generate_key().decode())
    result = wrong.test_cli_runner().invoke(args=["rotate-contact-key"])
    assert result.exit_code != 0 and "nothing was changed" in result.output
    assert stored_value(app, rally_id) == before


def test_a_new_key_is_printed_for_the_environment(runner):
    result = runner.invoke(args=["new-contact-key"])
    key = result.output.strip().removeprefix("MAPAPP_CONTACT_KEY=")
    Fernet(key)  # a valid key


def test_a_bad_key_stops_the_app(sqlite_url):
    with pytest.raises(ValueError, match="MAPAPP_CONTACT_KEY"):
        create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "CONTACT_KEY": "not-a-key"})


def test_without_a_key_outside_development_contacts_are_refused(sqlite_url):
    app = make_app(sqlite_url, CONTACT_KEY=None, TESTING=False, SECRET_KEY="k" * 32)
    client = app.test_client()
    base = "https://localhost"  # the session cookie is Secure outside development
    page = client.get("/submit?lang=en", base_url=base).get_data(as_text=True)
    assert "cannot take a contact" in page and 'name="contact"' not in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {
        "csrf_token": token,
        "title": "Пікет салідарнасці ў Гродне",
        "town": "Гродно",
        "date": (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d"),
        "time": "19:00",
        "contact": CONTACT,  # posted anyway, by a script or an old page
        "step": "confirm",
        "lat": "53.68",
        "lon": "23.83",
    }
    sent = client.post("/submit", data=data, base_url=base)
    assert sent.status_code == 303
    with app.app_context():
        assert db.session().scalars(select(Rally.contact)).all() == [None]
    assert CONTACT.encode() not in raw_database(sqlite_url)
    # Nothing stores clear text, whatever the path.
    with pytest.raises(Exception, match="MAPAPP_CONTACT_KEY"):
        add_rally(app, contact=CONTACT)


SOON = datetime.now(UTC) + timedelta(days=30)


def test_import_with_contacts_and_no_key_is_refused(sqlite_url, tmp_path):
    app = make_app(sqlite_url, CONTACT_KEY=None, TESTING=False, SECRET_KEY="k" * 32)
    csv = tmp_path / "rallies.csv"
    csv.write_text(
        "title,city,place,starts_at,description,lat,lon,status,contact\n"
        f"Пікет у Гродне,Гродна,,{SOON:%Y-%m-%d}T19:00,,,,pending,{CONTACT}\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["import-rallies", str(csv)])
    assert result.exit_code != 0 and "MAPAPP_CONTACT_KEY is not set" in result.output
    with app.app_context():
        assert db.session().scalars(select(Rally.id)).all() == []


def test_purge_deletes_old_contacts_and_rejected_texts(app, runner):
    long_ago = datetime.now(UTC) - timedelta(days=60)
    ended = add_rally(app, contact=CONTACT, starts_at=long_ago, ends_at=long_ago)
    upcoming = add_rally(app, contact=CONTACT)
    rejected = add_rally(app, status="rejected", title="Адхілены пікет", contact=CONTACT)
    with app.app_context():  # rejected two months ago
        session = db.session()
        session.execute(update(Rally).where(Rally.id == rejected).values(updated_at=long_ago))
        session.commit()
    recent_rejected = add_rally(app, status="rejected", title="Учора адхілены")
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "texts of 1 rallies" in result.output
    with app.app_context():
        session = db.session()
        assert session.get(Rally, ended).contact is None
        assert session.get(Rally, upcoming).contact == CONTACT
        gone = session.get(Rally, rejected)
        assert (gone.title, gone.description, gone.place, gone.contact) == ("", "", "", None)
        assert session.get(Rally, recent_rejected).title == "Учора адхілены"


def test_a_moderator_issues_a_new_manage_link(app, client, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    rally_id = add_rally(app, status="pending", manage_token_hash=hash_token("tok-lost-link"))
    assert client.get("/manage/tok-lost-link").status_code == 200
    log_in(client)
    token = csrf(client, f"/moderate/rallies/{rally_id}")
    answer = client.post(f"/moderate/rallies/{rally_id}/manage-link", data={"csrf_token": token})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    link = re.search(
        r'id="manage-link">http://localhost(/manage/[^<]+)<', answer.get_data(as_text=True)
    )[1]
    assert client.get("/manage/tok-lost-link").status_code == 404  # the old link is dead
    assert client.get(link).status_code == 200
    with app.app_context():
        actions = (
            db.session()
            .scalars(select(AuditEntry.action).where(AuditEntry.rally_id == rally_id))
            .all()
        )
    assert "new-manage-link" in actions
    # Without the CSRF token nothing changes.
    assert client.post(f"/moderate/rallies/{rally_id}/manage-link").status_code == 400
    assert client.get(link).status_code == 200
