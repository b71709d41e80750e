"""CLI and seed, on SQLite and on PostgreSQL."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from mapapp.domain import db
from mapapp.domain.models import Rally, Status
from mapapp.domain.seed import demo_rallies, next_occurrence
from mapapp.places.regions import REGION_CODES
from mapapp.places.search import Gazetteer


def count(app, *where) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count(Rally.id)).where(*where))


def test_init_db_loads_the_seed_once(db_app):
    runner = db_app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    assert "13 seed rallies added" in first.output
    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0 and "0 seed rallies added" in second.output
    assert count(db_app) == 13
    assert count(db_app, Rally.status == Status.APPROVED.value) == 13


def test_seed_puts_the_call_on_october_square_next_21_october(db_app):
    db_app.test_cli_runner().invoke(args=["init-db"])
    with db_app.app_context():
        featured = db.session().scalars(select(Rally).where(Rally.featured)).one()
    assert (featured.lat, featured.lon) == (53.9022, 27.5617)
    assert featured.region == "BY-HM"
    local = featured.starts_at.astimezone(featured.starts_at.tzinfo)
    assert featured.starts_at.tzinfo is not None
    from mapapp.places.locale import MINSK

    local = featured.starts_at.astimezone(MINSK)
    assert (local.month, local.day, local.hour, local.minute) == (10, 21, 19, 0)
    assert featured.starts_at > datetime.now(UTC)


def test_seed_has_the_regional_centres_on_their_squares(db_app):
    db_app.test_cli_runner().invoke(args=["init-db"])
    with db_app.app_context():
        rallies = db.session().scalars(select(Rally)).all()
    by_key = {r.seed_key: r for r in rallies}
    assert (by_key["hrodna-soviet-square"].lat, by_key["hrodna-soviet-square"].lon) == (
        53.6778,
        23.8297,
    )
    assert by_key["viciebsk-victory-square"].region == "BY-VI"
    assert {r.region for r in rallies} == set(REGION_CODES)
    # no sourced square in Brest: the town's own point
    brest = Gazetteer.load().by_id(629634)
    assert (by_key["brest-lenin-square"].lat, by_key["brest-lenin-square"].lon) == (
        brest.lat,
        brest.lon,
    )


def test_next_occurrence_rolls_over_the_year():
    from mapapp.places.locale import MINSK

    before = datetime(2026, 10, 21, 18, 59, tzinfo=MINSK)
    after = datetime(2026, 10, 21, 19, 1, tzinfo=MINSK)
    assert next_occurrence("21 October, 19:00, Europe/Minsk", before).year == 2026
    assert next_occurrence("21 October, 19:00, Europe/Minsk", after).year == 2027
    assert next_occurrence("21 October, 19:00, Europe/Minsk", after).utcoffset().seconds == 3 * 3600


def test_demo_data_adds_realistic_rallies(db_app):
    result = db_app.test_cli_runner().invoke(args=["demo-data", "--count", "200", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert count(db_app, Rally.status == Status.APPROVED.value) == 200
    now = datetime.now(UTC)
    with db_app.app_context():
        rallies = db.session().scalars(select(Rally)).all()
    assert any(r.starts_at < now for r in rallies) and any(r.starts_at > now for r in rallies)
    assert len({r.town for r in rallies}) > 30
    assert 25 <= sum(len(r.title) for r in rallies) / 200 <= 55
    assert 150 <= sum(len(r.description) for r in rallies) / 200 <= 250
    assert all(51.2 < r.lat < 56.2 and 23.1 < r.lon < 32.9 for r in rallies)


def test_demo_data_is_repeatable_with_a_seed():
    gazetteer = Gazetteer.load()
    now = datetime(2026, 11, 25, tzinfo=UTC)
    first = [(r.title, r.lat) for r in demo_rallies(gazetteer, 20, seed=3, now=now)]
    second = [(r.title, r.lat) for r in demo_rallies(gazetteer, 20, seed=3, now=now)]
    assert first == second


def test_upgrade_keeps_existing_rallies(db_app):
    from conftest import add_rally

    add_rally(db_app, title="kept")
    with db_app.app_context():
        db.upgrade_schema()
    assert count(db_app, Rally.title == "kept") == 1


def test_stored_times_come_back_aware_utc(db_app):
    from conftest import add_rally

    from mapapp.places.locale import MINSK

    rally_id = add_rally(db_app, starts_at=datetime(2030, 1, 2, 19, 0, tzinfo=MINSK))
    with db_app.app_context():
        rally = db.session().get(Rally, rally_id)
        assert rally.starts_at == datetime(2030, 1, 2, 16, 0, tzinfo=UTC)
        assert rally.starts_at.utcoffset().total_seconds() == 0
