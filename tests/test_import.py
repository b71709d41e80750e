"""import-rallies, create-moderator and purge, on SQLite and PostgreSQL."""

import unicodedata
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from mapapp.domain import db
from mapapp.domain.models import Moderator, Rally

HEADER = "title,city,place,starts_at,description,lat,lon,status,contact\n"
# Within the next year, as the form's rules want for a new rally.
SOON = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%d")


def write(tmp_path, body, name="rallies.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return str(path)


def rallies(app):
    with app.app_context():
        return db.session().scalars(select(Rally).order_by(Rally.id)).all()


def test_import_geocodes_and_reads_minsk_time(db_app, tmp_path):
    path = write(
        tmp_path,
        f"Пікет у Гродне,Гродна,Савецкая плошча,{SOON}T19:00,Апісанне,,,approved,a@example.org\n"
        f'Другі,"Minsk",,{SOON}T19:00:00+03:00,"Коска, і ""двукоссе""",53.9,27.56,,\n',
    )
    result = db_app.test_cli_runner().invoke(args=["import-rallies", path])
    assert result.exit_code == 0, result.output
    assert "Imported 2 rallies." in result.output
    first, second = rallies(db_app)
    assert (first.lat, first.lon) == (53.6778, 23.8297)  # the square, geocoded
    assert first.region == "BY-HR" and first.status == "approved"
    assert first.contact == "a@example.org"
    assert first.starts_at == datetime.fromisoformat(f"{SOON}T16:00+00:00")
    assert second.status == "pending" and second.region == "BY-HM"
    assert second.description == 'Коска, і "двукоссе"'


def test_bad_rows_are_named_and_nothing_is_imported(db_app, tmp_path):
    path = write(
        tmp_path,
        f"Good one,Minsk,,{SOON}T12:00,,,,approved,\n"
        "No date,Minsk,,tomorrow,,,,,\n"
        f"Outside,Warsaw,,{SOON}T12:00,,52.23,21.01,,\n"
        f"Bad status,Minsk,,{SOON}T12:00,,,,published,\n"
        f",Minsk,,{SOON}T12:00,,,,,\n"
        f"Unknown town,Atlantis,,{SOON}T12:00,,,,,\n"
        f"Half a point,Minsk,,{SOON}T12:00,,53.9,,,\n",
    )
    result = db_app.test_cli_runner().invoke(args=["import-rallies", path])
    assert result.exit_code != 0
    output = result.output
    assert "line 3: starts_at 'tomorrow'" in output
    assert "line 4: the point 52.23, 21.01 is outside Belarus" in output
    assert "line 5: status must be approved or pending" in output
    assert "line 6: title is empty" in output
    assert "line 7: cannot find 'Atlantis'" in output
    assert "line 8: lat and lon must both be decimal numbers" in output
    assert "6 bad rows: nothing was imported" in output
    assert rallies(db_app) == []


def test_import_has_the_forms_rules_and_names_every_bad_line(db_app, tmp_path):
    now = datetime.now(UTC)
    two_years_ago = (now - timedelta(days=730)).strftime("%Y-%m-%dT%H:%M")
    path = write(
        tmp_path,
        "Year one,Minsk,,0001-01-01T00:00,,,,approved,\n"  # line 2: crashed with a traceback
        "Mistyped year,Minsk,,0207-10-21T19:00,,,,approved,\n"
        '"Two\nlines",Minsk,,{soon}T12:00,,,,,\n'  # lines 4-5
        "Reversed,Minsk,Плошча\u202e,{soon}T12:00,,,,,\n"
        "Isolate,Minsk\u2066,,{soon}T12:00,,,,,\n"
        "Marked,Minsk,,{soon}T12:00,Апісанне\u200f,,,,\n"
        "{long},Minsk,,{soon}T12:00,,,,,\n"
        "In the past,Minsk,,{past},,,,pending,\n"
        "Far ahead,Minsk,,2099-06-01T19:00,,,,approved,\n"
        "Tiny,Minsk,,{soon}T12:00,,,,,\n"
        "Line\u2028sep,Minsk,,{soon}T12:00,,,,,\n".format(
            soon=SOON, long="Д" * 121, past=two_years_ago
        ),
    )
    result = db_app.test_cli_runner().invoke(args=["import-rallies", path])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    output = result.output
    assert "Traceback" not in output
    assert "line 2: starts_at '0001-01-01T00:00': the year 1 is not plausible" in output
    assert "line 3: starts_at '0207-10-21T19:00': the year 207 is not plausible" in output
    assert "line 4: title must be on one line" in output
    assert "line 6: place contains invisible characters that change the direction" in output
    assert "line 7: city contains invisible characters that change the direction" in output
    assert "line 8: description contains invisible characters" in output
    assert "line 9: title is longer than 120 characters" in output
    assert "line 10: starts_at" in output and "must be in the future" in output
    assert "line 11: starts_at '2099-06-01T19:00': the year 2099 is not plausible" in output
    assert "line 12: title is shorter than 5 characters" in output
    assert "line 13: title must be on one line" in output
    assert "11 bad rows" in output
    assert rallies(db_app) == []


def test_import_normalises_to_nfc_and_keeps_approved_past_rallies(db_app, tmp_path):
    title = "Пікет ў " + "ў" * 5 + "а" * 107  # 120 letters, six of them ў
    decomposed = unicodedata.normalize("NFD", title)
    assert len(decomposed) == 126
    past = (datetime.now(UTC) - timedelta(days=730)).strftime("%Y-%m-%dT19:00")
    path = write(tmp_path, f"{decomposed},Minsk,,{past},,,,approved,\n")
    result = db_app.test_cli_runner().invoke(args=["import-rallies", path])
    assert result.exit_code == 0, result.output
    (rally,) = rallies(db_app)
    assert rally.title == title and rally.status == "approved"


def test_wrong_header_is_refused(db_app, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("name,town\nA,B\n", encoding="utf-8")
    result = db_app.test_cli_runner().invoke(args=["import-rallies", str(path)])
    assert result.exit_code != 0 and "line 1: the header must be" in result.output


def test_create_moderator(db_app, monkeypatch):
    runner = db_app.test_cli_runner()
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", "short")
    assert runner.invoke(args=["create-moderator", "ana"]).exit_code != 0
    monkeypatch.delenv("MAPAPP_MODERATOR_PASSWORD")
    result = runner.invoke(
        args=["create-moderator", "ana"], input="a long passphrase\na long passphrase\n"
    )
    assert result.exit_code == 0, result.output
    with db_app.app_context():
        moderator = db.session().scalars(select(Moderator)).one()
    assert moderator.name == "ana"
    assert "a long passphrase" not in moderator.password_hash


def test_purge_deletes_contacts_after_the_event(db_app):
    from conftest import add_rally

    now = datetime.now(UTC)
    old = add_rally(db_app, contact="old@example.org", starts_at=now - timedelta(days=10))
    old_no_end = add_rally(
        db_app, contact="o2@example.org", starts_at=now - timedelta(days=8), ends_at=None
    )
    recent = add_rally(db_app, contact="recent@example.org", starts_at=now - timedelta(days=2))
    future = add_rally(db_app, contact="future@example.org", starts_at=now + timedelta(days=2))
    result = db_app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted the contact of 2 rallies" in result.output
    with db_app.app_context():
        session = db.session()
        assert session.get(Rally, old).contact is None
        assert session.get(Rally, old_no_end).contact is None
        assert session.get(Rally, recent).contact == "recent@example.org"
        assert session.get(Rally, future).contact == "future@example.org"
        assert session.scalar(select(func.count(Rally.id))) == 4
