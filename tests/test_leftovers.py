"""Leftovers a seized server would give: purged texts in SQLite's files, readable database
files, a hidden rally's region computed from its hidden pin."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import add_rally, make_app
from sqlalchemy import update

from mapapp.domain import db
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import Rally, Status

SECRET_TITLE = "Сакрэтны пікет ля завода Іванова"
SECRET_PLACE = "Двор дома 17 па вуліцы Цыялкоўскага"


def database_files(sqlite_url: str) -> list[Path]:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def test_purged_texts_leave_neither_the_database_nor_its_wal(sqlite_url) -> None:
    app = make_app(sqlite_url)
    rally_id = add_rally(app, title=SECRET_TITLE, place=SECRET_PLACE, status=Status.REJECTED.value)
    for n in range(20):  # other writes, so the texts sit in several pages and log frames
        add_rally(app, title=f"Other rally {n}")
    with app.app_context():
        session = db.session(write=True)
        old = datetime.now(UTC) - timedelta(days=60)
        session.execute(update(Rally).where(Rally.id == rally_id).values(updated_at=old))
        session.commit()
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "Deleted the texts of 1 rallies" in result.output, result.output
    files = database_files(sqlite_url)
    wal = files[1]
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
    for path in files:
        if path.exists():
            data = path.read_bytes()
            for text in (SECRET_TITLE, SECRET_PLACE):
                assert text.encode() not in data, path.name
    app.extensions["mapapp.db"]["engine"].dispose()


def test_database_files_are_readable_by_their_owner_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("os.umask", lambda mask: 0o022)  # documents the usual umask
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = make_app(url)  # creates and upgrades the schema, as init-db does
    add_rally(app)
    files = [path for path in database_files(url) if path.exists()]
    assert files and files[0].exists()
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    app.extensions["mapapp.db"]["engine"].dispose()


def test_an_existing_readable_database_is_made_owner_only(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    url = f"sqlite:///{path}"
    make_app(url).extensions["mapapp.db"]["engine"].dispose()
    path.chmod(0o644)
    app = make_app(url)
    add_rally(app)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    app.extensions["mapapp.db"]["engine"].dispose()


def test_a_hidden_rallys_region_is_its_towns(app) -> None:
    with app.app_context():
        minsk = gazetteer().by_name("Мінск")
    assert minsk.region == "BY-HM"
    later = datetime.now(UTC) + timedelta(days=30)
    # The pin just outside the city, in Minsk Region: stored with the pin's region, as rows
    # were before the town's region was kept.
    hidden = add_rally(
        app,
        geonameid=minsk.geonameid,
        region="BY-MI",
        lat=53.98,
        lon=27.75,
        starts_at=later,
        ends_at=later + timedelta(hours=2),
        reveal_at=later - timedelta(hours=1),
    )
    client = app.test_client()
    assert client.get(f"/api/rallies/{hidden}").get_json()["region"] == "BY-HM"
    # The filter reads the stored region: the migration put the town's there (below).


def test_the_migration_gives_old_rows_their_towns_region(sqlite_url) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text

    from mapapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "SECRET_KEY": "test"})
    with app.app_context():
        minsk = gazetteer().by_name("Мінск")
        with db.engine().begin() as connection:
            command.upgrade(
                db.alembic_config(connection), "0014_published_parts"
            )  # the one before 0010
        hidden = add_rally(app, geonameid=minsk.geonameid, region="BY-MI")
        before = db.session().scalar(text("SELECT version FROM data_version"))
        db.close_session()
        db.upgrade_schema()
        engine = create_engine(sqlite_url)
        with engine.connect() as connection:
            regions = connection.execute(
                text("SELECT region FROM rally WHERE id = :id UNION ALL "
                     "SELECT region FROM published_rally WHERE id = :id"),
                {"id": hidden},
            ).scalars().all()  # fmt: skip
            after = connection.execute(text("SELECT version FROM data_version")).scalar()
        engine.dispose()
    assert regions == ["BY-HM", "BY-HM"]
    assert after == before + 1  # caches keyed by the data version forget the old regions
    public = app.test_client().get("/api/rallies.geojson?region=BY-MI").get_json()
    assert hidden not in [f["properties"]["id"] for f in public["features"]]
    app.extensions["mapapp.db"]["engine"].dispose()


def test_a_new_rally_is_stored_with_its_towns_region(app, monkeypatch) -> None:
    """A pin near the town, across a region's border: the town's region is stored."""
    from types import SimpleNamespace

    from werkzeug.datastructures import MultiDict

    from mapapp.web import forms

    with app.test_request_context("/submit"):
        real = gazetteer()
        minsk = real.by_name("Мінск")

        class AcrossTheBorder:
            def reverse(self, lat: float, lon: float) -> SimpleNamespace:
                return SimpleNamespace(region="BY-MI", place=real.reverse(lat, lon).place)

            def by_id(self, geonameid: int):  # noqa: ANN201
                return real.by_id(geonameid)

        monkeypatch.setattr(forms, "gazetteer", AcrossTheBorder)
        day = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d")
        form = forms.RallyForm(
            meta={"csrf": False},
            formdata=MultiDict({"title": "A rally in Minsk", "town": "Мінск", "date": day,
                                "time": "19:00"}),
        )  # fmt: skip
        fields = forms.rally_fields(form, 53.95, 27.65, minsk.geonameid)
    assert fields["region"] == "BY-HM"
