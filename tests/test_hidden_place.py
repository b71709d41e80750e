"""Review of issue 24, findings 1-3: a hidden place stays hidden, and "moved" is said only of
a move the public can see, on every path (the organizer's manage page, a moderator's edit,
two moderators' approval), through the web forms as people use them, on SQLite and PostgreSQL.

One rule names "the same place" (lifecycle.same_place): the text equal once case, spaces,
punctuation and the apostrophe's forms are set aside, and the pin less than 150 m away.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, open_manage
from flask import Flask
from sqlalchemy import select
from test_approvals import TITLE, app2, moderator_client, press, public_outputs  # noqa: F401
from test_moderate import csrf
from test_safe_forms import edit_data

from mapapp.domain import db, lifecycle
from mapapp.domain.models import AuditEntry, PublishedRally, Rally
from mapapp.places.locale import MINSK

PLACE = "Плошча Свабоды"
PIN = ("53.9036", "27.5561")  # add_rally's pin
NUDGED = ("53.9041", "27.5566")  # 64 m away: a finger's slip on a phone


def rally_with(app: Flask, reveal_hours: int | None) -> tuple[int, datetime]:
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=5)
    reveal = starts - timedelta(hours=reveal_hours) if reveal_hours else None
    rally_id = add_rally(
        app, title=TITLE, manage_token_hash=lifecycle.hash_token("tok"), geonameid=625144,
        starts_at=starts, reveal_at=reveal,
    )  # fmt: skip
    return rally_id, starts


def organizer_edit(app: Flask, rally_id: int, **changes: str) -> None:
    client = app.test_client()
    data = edit_data(client, app, rally_id, **changes)
    data["csrf_token"] = csrf(client, "/manage/tok")
    answer = client.post("/manage/tok/edit", data=data)
    assert answer.status_code == 303, answer.get_data(as_text=True)


def both_approve(app: Flask, rally_id: int) -> None:
    for name in ("alesia", "barys"):
        assert press(moderator_client(app, name), rally_id, "approve").status_code == 303


def public(app: Flask, rally_id: int) -> dict:
    return app.test_client().get(f"/api/rallies/{rally_id}").get_json()


def walk(app: Flask, rally_id: int) -> dict[str, str]:
    """Every public output (public_outputs, and the Atom feed)."""
    outputs = public_outputs(app, rally_id)
    outputs["/rallies.atom"] = app.test_client().get("/rallies.atom").get_data(as_text=True)
    return outputs


def assert_hidden(app: Flask, rally_id: int, *pins: tuple[str, str]) -> None:
    """No public output gives the place away: neither its text nor any of its pins."""
    for url, body in walk(app, rally_id).items():
        assert PLACE not in body and PLACE.upper() not in body, url
        for lat, lon in pins:
            assert lat not in body and lon not in body, (url, lat)
    assert public(app, rally_id)["place"] is None


def assert_not_moved(app: Flask, rally_id: int) -> None:
    assert public(app, rally_id)["status"] == "approved"
    outputs = walk(app, rally_id)
    assert "moved" not in outputs["telegram outbox"].split()
    for url in (
        "/api/rallies.geojson",
        f"/api/rallies/{rally_id}",
        "/api/rallies.geojson?fields=map",
    ):
        assert '"status": "moved"' not in outputs[url], url


# Finding 1: an approved pin nudge of a hidden place is no public "moved".


def test_a_hidden_place_s_nudged_pin_and_retyped_text_are_no_public_move(app2) -> None:  # noqa: F811
    rally_id, _ = rally_with(app2, 2)
    organizer_edit(app2, rally_id, place="плошча  СВАБОДЫ.", lat=NUDGED[0], lon=NUDGED[1])
    both_approve(app2, rally_id)
    with app2.app_context():
        row = db.session().get(PublishedRally, rally_id)
        assert (row.lat, row.lon, row.status) == (53.9041, 27.5566, "approved")
    assert_not_moved(app2, rally_id)
    assert_hidden(app2, rally_id, PIN, NUDGED)
    # Another place inside the town, still hidden: the public knows only the town, no news.
    organizer_edit(app2, rally_id, place="Каля ратушы", lat="53.9040", lon="27.5480")
    both_approve(app2, rally_id)
    assert_not_moved(app2, rally_id)
    # A new town is news even while the place is hidden: people on their way must know.
    organizer_edit(app2, rally_id, town="Гродна", place="Савецкая плошча")
    both_approve(app2, rally_id)
    assert public(app2, rally_id)["status"] == "moved"
    assert public(app2, rally_id)["place"] is None


def test_a_moderator_s_nudge_of_a_hidden_place_is_no_public_move(app2) -> None:  # noqa: F811
    rally_id, _starts = rally_with(app2, 2)
    # The moderation form moves no pin (test_moderator_changes): a nudge comes from the
    # state table, as an older edit left one, or as a place's text looked up again may.
    with app2.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        fields = {"place": "Плошча Свабоды!", "lat": float(NUDGED[0]), "lon": float(NUDGED[1])}
        lifecycle.edit(session, rally, fields, "moderator:alesia")
        session.commit()
    assert press(moderator_client(app2, "barys"), rally_id, "approve").status_code == 303
    with app2.app_context():
        assert db.session().get(PublishedRally, rally_id).lat == 53.9041
    assert_not_moved(app2, rally_id)
    assert_hidden(app2, rally_id, PIN, NUDGED)


def test_a_shown_place_moves_only_when_it_is_another_place(app2) -> None:  # noqa: F811
    rally_id, _ = rally_with(app2, None)
    # One more dot, another case, a nudge of 64 m: the same place, nothing to warn of.
    organizer_edit(
        app2, rally_id, place="плошча Свабоды.", lat=NUDGED[0], lon=NUDGED[1], reveal="now"
    )
    both_approve(app2, rally_id)
    assert_not_moved(app2, rally_id)
    # The same text 400 m away is another place: everyone who saw the old one is told.
    organizer_edit(
        app2, rally_id, place="плошча Свабоды.", lat="53.9076", lon="27.5566", reveal="now"
    )
    both_approve(app2, rally_id)
    assert public(app2, rally_id)["status"] == "moved"


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        ("Плошча Леніна", "Плошча Леніна.", True),
        ("Плошча Леніна", "  плошча   ЛЕНІНА ", True),
        ("каля пад’езда 5", "каля пад'езда, 5", True),
        ("Плошча Леніна", "Плошча Перамогі", False),
        ("", "Плошча Леніна", False),
    ],
)
def test_the_same_place_is_the_same_text_and_a_pin_within_150_m(old, new, same) -> None:
    class Row:
        town, place, lat, lon = "Мінск", old, 53.9036, 27.5561

    near = {"town": "Мінск", "place": new, "lat": 53.9036 + 0.0012, "lon": 27.5561}  # 133 m
    assert lifecycle.same_place(Row, near) is same
    far = {**near, "lat": 53.9036 + 0.0015}  # 167 m
    assert lifecycle.same_place(Row, far) is False


# Finding 2: "N hours before the start" counts from the start the public sees.


def test_a_waiting_start_moves_no_public_reveal_until_it_is_approved(app2) -> None:  # noqa: F811
    rally_id, starts = rally_with(app2, 6)
    public_reveal = datetime.fromisoformat(public(app2, rally_id)["reveal_at"])
    assert public_reveal == starts - timedelta(hours=6)
    later = (starts + timedelta(days=1)).astimezone(MINSK).strftime("%Y-%m-%d")
    organizer_edit(app2, rally_id, date=later, reveal="6")
    shown = public(app2, rally_id)
    assert datetime.fromisoformat(shown["reveal_at"]) == public_reveal  # not 18 h after the start
    assert datetime.fromisoformat(shown["starts_at"]) == starts
    assert_hidden(app2, rally_id, PIN)
    # Rejected: the public reveal stays, and the organizer's page shows it again.
    barys = moderator_client(app2, "barys")
    assert press(barys, rally_id, "reject-changes", reason="Не").status_code == 303
    with app2.app_context():
        rally = db.session().get(Rally, rally_id)
        assert (rally.starts_at, rally.reveal_at) == (starts, starts - timedelta(hours=6))
    assert datetime.fromisoformat(public(app2, rally_id)["reveal_at"]) == public_reveal
    # Two days earlier, waiting: the place does not become public two days early.
    earlier = starts - timedelta(days=2)
    organizer_edit(app2, rally_id, date=earlier.astimezone(MINSK).strftime("%Y-%m-%d"), reveal="6")
    assert datetime.fromisoformat(public(app2, rally_id)["reveal_at"]) == public_reveal
    assert_hidden(app2, rally_id, PIN)
    # Approved: the new start and its reveal are published together.
    both_approve(app2, rally_id)
    shown = public(app2, rally_id)
    assert datetime.fromisoformat(shown["starts_at"]) == earlier
    assert datetime.fromisoformat(shown["reveal_at"]) == earlier - timedelta(hours=6)
    assert_hidden(app2, rally_id, PIN)
    # A time of one's own after the public start, waiting with a later start: the public
    # version shows the place at its own start at the latest.
    later = earlier + timedelta(days=1)
    own = later - timedelta(hours=1)
    organizer_edit(
        app2, rally_id, date=later.astimezone(MINSK).strftime("%Y-%m-%d"), reveal="at",
        reveal_date=own.astimezone(MINSK).strftime("%Y-%m-%d"),
        reveal_time=own.astimezone(MINSK).strftime("%H:%M"),
    )  # fmt: skip
    assert datetime.fromisoformat(public(app2, rally_id)["reveal_at"]) == earlier
    with app2.app_context():
        assert db.session().get(Rally, rally_id).reveal_at == own


def test_an_offset_chosen_while_a_start_waits_counts_from_the_public_start(app2) -> None:  # noqa: F811
    rally_id, starts = rally_with(app2, 2)
    later = (starts + timedelta(days=1)).astimezone(MINSK).strftime("%Y-%m-%d")
    organizer_edit(app2, rally_id, date=later, reveal="6")
    shown = public(app2, rally_id)
    assert datetime.fromisoformat(shown["reveal_at"]) == starts - timedelta(hours=6)
    assert datetime.fromisoformat(shown["starts_at"]) == starts


# Finding 3: a dot or a nudge is no new place, so a shown place stays shown.


@pytest.mark.parametrize(
    ("place", "pin"),
    [
        ("Плошча Свабоды.", PIN),
        ("Плошча Свабоды", ("53.90361", "27.55611")),
        ("плошча свабоды", NUDGED),
    ],
)
def test_a_dot_or_a_nudge_does_not_hide_a_shown_place_again(db_app, place, pin) -> None:
    rally_id, _ = rally_with(db_app, None)
    client = db_app.test_client()
    data = edit_data(client, db_app, rally_id, place=place, lat=pin[0], lon=pin[1], reveal="2")
    refused = client.post("/manage/tok/edit?lang=be", data=data)
    assert refused.status_code == 422
    assert "схаваць яго зноў нельга" in refused.get_data(as_text=True)
    shown = client.get(f"/api/rallies/{rally_id}").get_json()
    assert shown["place"] == PLACE and shown["reveal_at"] is None


def test_putting_back_a_seized_moderator_s_change_never_hides_a_shown_place_again(db_app) -> None:
    rally_id, starts = rally_with(db_app, 2)
    with db_app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        lifecycle.set_reveal(session, rally, None, "moderator:m")  # shown before its time
        before = (
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.rally_id == rally_id, AuditEntry.action == "reveal"
                )
            )
            .one()
            .before
        )
        lifecycle.revert_to(session, rally, before, lifecycle.SYSTEM, ["alesia", "barys"])
        session.commit()
        assert rally.reveal_at is None
        assert session.get(PublishedRally, rally_id).reveal_at is None
    assert db_app.test_client().get(f"/api/rallies/{rally_id}").get_json()["place"] == PLACE


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "the place is shown as planned for the approved start time"),
        ("be", "месца пакажуць, як было прызначана для зацверджанага часу"),
        ("ru", "место покажут так, как было назначено для одобренного времени"),
    ],
)
def test_the_organizer_is_told_the_place_follows_the_approved_start(db_app, lang, said) -> None:
    rally_id, starts = rally_with(db_app, 6)
    client = db_app.test_client()
    later = (starts + timedelta(days=1)).astimezone(MINSK).strftime("%Y-%m-%d")
    data = edit_data(client, db_app, rally_id, date=later, reveal="6")
    page = client.post(f"/manage/tok/edit?lang={lang}", data=data, follow_redirects=True)
    assert said in page.get_data(as_text=True)


def test_a_place_shown_by_its_time_while_a_start_waits_stays_shown(app2) -> None:  # noqa: F811
    rally_id, starts = rally_with(app2, 6)
    later = (starts + timedelta(days=1)).astimezone(MINSK).strftime("%Y-%m-%d")
    organizer_edit(app2, rally_id, date=later, reveal="6")
    with app2.app_context():  # the public's start comes near while the new start waits
        session = db.session(write=True)
        row = session.get(PublishedRally, rally_id)
        row.starts_at = datetime.now(UTC) + timedelta(hours=3)
        row.reveal_at = row.starts_at - timedelta(hours=6)
        session.commit()
    assert public(app2, rally_id)["place"] == PLACE
    organizer = app2.test_client()
    open_manage(organizer, "tok")
    page = organizer.get("/manage/tok").get_data(as_text=True)
    assert '<option selected value="now">' in page or 'value="now" selected' in page, page
    # A form opened before (still "6 hours before") changes no reveal; approving the new
    # start does not hide the place the public has seen.
    organizer_edit(app2, rally_id, date=later, reveal="6", title="Пікет салідарнасці, новы час")
    both_approve(app2, rally_id)
    shown = public(app2, rally_id)
    assert shown["place"] == PLACE and datetime.fromisoformat(shown["starts_at"]) > starts
