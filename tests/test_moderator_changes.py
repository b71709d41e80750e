"""A moderator's change of what waits, with MAPAPP_APPROVALS=2 (review 9): every other
moderator sees it struck and marked against what the organizer sent, in the queue and on the
rally's page, with a badge naming the editor; it stays out of the bulk approve; an approval
needs at least one moderator who did not write it; the organizer's manage page shows it. And
the other moderation paths of the same review: "moved" on a hidden place, the danger box."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, fresh_postgres, make_app, open_manage
from flask import Flask
from sqlalchemy import select
from test_approvals import moderator_client, press
from test_moderate import PASSWORD, csrf

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Approval, Rally

TITLE = "Пікет ля ратушы"
SENT_PLACE = "Кастрычніцкая плошча"
SENT_TEXT = "Збіраемся ля ўваходу ў палац."
SEIZED_PLACE = "Двор за вакзалам, гаражы"
SEIZED_TEXT = "Збор у двары за вакзалам, ля гаражоў."


@pytest.fixture(params=["sqlite", "postgresql"])
def app3(request, sqlite_url: str) -> Iterator[Flask]:  # noqa: ANN001
    """Two approvals publish; three moderators, carol the seized one."""
    app = make_app(sqlite_url if request.param == "sqlite" else fresh_postgres(), APPROVALS=2)
    runner = app.test_cli_runner()
    for name in ("alesia", "barys", "carol"):
        result = runner.invoke(
            args=["create-moderator", name], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
        )
        assert result.exit_code == 0, result.output
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def submitted(app: Flask) -> tuple[int, str]:
    """A rally an organizer sent (through the state table, as the form does), and its token."""
    fields = {
        "title": TITLE,
        "description": SENT_TEXT,
        "town": "Мінск",
        "place": SENT_PLACE,
        "region": "BY-HM",
        "lat": 53.9025,
        "lon": 27.5616,
        "starts_at": datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC),
        "contact": "@organizer",
    }
    with app.app_context():
        rally, token = lifecycle.submit(db.session(write=True), fields)
        return rally.id, token


def edit_form(client, rally_id: int, **changes) -> dict:  # noqa: ANN001, ANN003
    year = datetime.now(UTC).year + 1
    return {
        "csrf_token": csrf(client, f"/moderate/rallies/{rally_id}"),
        "title": TITLE,
        "description": SENT_TEXT,
        "town": "Мінск",
        "place": SENT_PLACE,
        "date": f"{year}-06-01",
        "time": "19:00",  # no pin: the moderation form sends none
        **changes,
    }


def carol_rewrites(app: Flask, rally_id: int) -> None:
    carol = moderator_client(app, "carol")
    form = edit_form(carol, rally_id, place=SEIZED_PLACE, description=SEIZED_TEXT)
    response = carol.post(f"/moderate/rallies/{rally_id}/edit", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def queue_item(page: str, rally_id: int) -> str:
    found = re.search(
        rf'<li class="rally-item queue-item" id="rally-{rally_id}">(.*?)</li>', page, re.S
    )
    assert found, page[:3000]
    return found.group(1)


def approvals(app: Flask, rally_id: int) -> list[int]:
    with app.app_context():
        return list(
            db.session().scalars(select(Approval.moderator_id).where(Approval.rally_id == rally_id))
        )


def public(app: Flask, rally_id: int):  # noqa: ANN201
    return app.test_client().get(f"/api/rallies/{rally_id}")


def test_a_moderators_change_of_a_waiting_rally_is_shown_struck_and_marked(app3) -> None:
    rally_id, token = submitted(app3)
    carol_rewrites(app3, rally_id)
    alesia = moderator_client(app3, "alesia")
    item = queue_item(alesia.get("/moderate?lang=en").get_data(as_text=True), rally_id)
    assert "changed by moderator carol" in item
    assert re.search(rf"<del>.*{SENT_PLACE}.*</del>", item)
    assert re.search(rf"<ins>.*{SEIZED_PLACE}.*</ins>", item)
    assert re.search(rf"<del>.*{SENT_TEXT}.*</del>", item)
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Changed by moderator carol" in page
    assert re.search(rf"<del>.*{SENT_PLACE}.*</del>", page)
    assert re.search(rf"<ins>.*{SEIZED_PLACE}.*</ins>", page)
    # The organizer is told what a moderator changed (no moderator's name on their page).
    organizer = app3.test_client()
    assert open_manage(organizer, token) == 303
    manage = organizer.get(f"/manage/{token}?lang=en").get_data(as_text=True)
    assert "A moderator changed your rally" in manage
    assert re.search(rf"<del>.*{SENT_PLACE}.*</del>", manage)
    assert "carol" not in manage
    # Belarusian, as moderators read it.
    be = alesia.get("/moderate?lang=be").get_data(as_text=True)
    assert "зменена мадэратарам carol" in queue_item(be, rally_id)


def test_the_bulk_approve_leaves_out_a_rally_a_moderator_changed(app3) -> None:
    rally_id, _token = submitted(app3)
    other = add_rally(app3, title="Іншы пікет", status="pending")
    carol_rewrites(app3, rally_id)
    for name in ("alesia", "barys"):
        client = moderator_client(app3, name)
        token = csrf(client, "/moderate")
        response = client.post(
            "/moderate/bulk?lang=en",
            data={"csrf_token": token, "ids": [rally_id, other], "decision": "approve"},
            follow_redirects=True,
        )
        assert "moderator carol changed it: approve it on its own" in response.get_data(
            as_text=True
        )
    assert approvals(app3, rally_id) == []
    assert public(app3, rally_id).status_code == 404
    assert public(app3, other).status_code == 200  # the others went through


def test_the_editors_alone_never_publish_their_change(app3) -> None:
    """carol and barys both changed it: their two approvals are not enough; alesia's is."""
    rally_id, _token = submitted(app3)
    carol_rewrites(app3, rally_id)
    barys = moderator_client(app3, "barys")
    form = edit_form(barys, rally_id, place=SEIZED_PLACE, description=SEIZED_TEXT, title="Пікет!")
    assert barys.post(f"/moderate/rallies/{rally_id}/edit", data=form).status_code == 303
    carol = moderator_client(app3, "carol")
    assert press(carol, rally_id, "approve").status_code == 303
    assert press(barys, rally_id, "approve").status_code == 303
    assert public(app3, rally_id).status_code == 404
    page = barys.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "approved by 2 of 3" in page
    assert press(moderator_client(app3, "alesia"), rally_id, "approve").status_code == 303
    shown = public(app3, rally_id).get_json()
    assert shown["place"] == SEIZED_PLACE


def test_an_approval_from_a_page_drawn_before_the_change_is_refused(app3) -> None:
    rally_id, _token = submitted(app3)
    alesia = moderator_client(app3, "alesia")
    page = alesia.get("/moderate").get_data(as_text=True)
    seen = re.search(rf'name="seen" value="({rally_id}:\d+)"', page).group(1)
    token = csrf(alesia, "/moderate")
    carol_rewrites(app3, rally_id)
    response = alesia.post(
        f"/moderate/rallies/{rally_id}/approve?lang=en",
        data={"csrf_token": token, "seen": seen},
    )
    assert response.status_code == 409
    assert "changed after the page was shown" in response.get_data(as_text=True)
    assert approvals(app3, rally_id) == []


def test_a_moderators_change_of_an_organizers_waiting_change_is_shown(app3) -> None:
    """A public rally: the organizer's waiting change, then carol's over it; the queue shows
    carol's against what the organizer sent, and the bulk approve leaves it out."""
    rally_id = add_rally(app3, title=TITLE, place=SENT_PLACE, description="Першы тэкст")
    with app3.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        lifecycle.edit(session, rally, {"description": SENT_TEXT}, lifecycle.ORGANIZER)
    carol_rewrites(app3, rally_id)
    alesia = moderator_client(app3, "alesia")
    item = queue_item(alesia.get("/moderate?lang=en").get_data(as_text=True), rally_id)
    assert "changed by moderator carol" in item
    assert re.search(rf"<del>.*{SENT_TEXT}.*</del>", item)  # the organizer's, not the public's
    assert re.search(rf"<ins>.*{SEIZED_TEXT}.*</ins>", item)
    token = csrf(alesia, "/moderate")
    response = alesia.post(
        "/moderate/bulk?lang=en",
        data={"csrf_token": token, "ids": [rally_id], "decision": "approve"},
        follow_redirects=True,
    )
    assert "approve it on its own" in response.get_data(as_text=True)
    assert public(app3, rally_id).get_json()["place"] == SENT_PLACE


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "still hidden"), ("ru", "ещё скрыто"), ("be", "яшчэ схавана")],
)
def test_a_hidden_place_cannot_be_marked_as_moved(app3, lang: str, words: str) -> None:
    reveal = datetime.now(UTC) + timedelta(days=2)
    rally_id = add_rally(app3, title=TITLE, reveal_at=reveal)
    alesia, barys = moderator_client(app3, "alesia"), moderator_client(app3, "barys")
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "/status/move" not in page
    for client in (alesia, barys):
        response = press(client, rally_id, f"status/move?lang={lang}")
        assert response.status_code == 409
        assert words in response.get_data(as_text=True)
    assert approvals(app3, rally_id) == []
    assert public(app3, rally_id).get_json()["status"] == "approved"
    # Once the place is shown, "moved" is offered and works (through two moderators).
    with app3.app_context():
        session = db.session(write=True)
        lifecycle.set_reveal(session, session.get(Rally, rally_id), None, "organizer")
    assert "/status/move" in alesia.get(f"/moderate/rallies/{rally_id}").get_data(as_text=True)
    press(alesia, rally_id, "status/move")
    press(barys, rally_id, "status/move")
    assert public(app3, rally_id).get_json()["status"] == "moved"


def test_a_moderators_danger_warning_needs_its_box_ticked(app3) -> None:
    rally_id = add_rally(app3, title=TITLE)
    alesia = moderator_client(app3, "alesia")
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "2 moderators must press “Remove the danger warning”" in page
    assert 'id="danger-confirm"' in page
    response = press(alesia, rally_id, "status/danger?lang=en")
    assert response.status_code == 422
    assert "Tick the box to confirm the warning." in response.get_data(as_text=True)
    assert public(app3, rally_id).get_json()["status"] == "approved"
    be = alesia.get(f"/moderate/rallies/{rally_id}?lang=be").get_data(as_text=True)
    assert "2 мадэратары мусяць націснуць" in be
    assert press(alesia, rally_id, "status/danger", confirm="y").status_code == 303
    assert public(app3, rally_id).get_json()["status"] == "danger"


def test_one_moderator_cannot_rewrite_a_cancelled_public_rally(app3) -> None:
    """A cancelled rally has no waiting state: an edit was published at once, by one account."""
    rally_id = add_rally(app3, title=TITLE, place=SENT_PLACE, status="cancelled")
    carol = moderator_client(app3, "carol")
    form = edit_form(carol, rally_id, place=SEIZED_PLACE, description=SEIZED_TEXT)
    response = carol.post(f"/moderate/rallies/{rally_id}/edit?lang=en", data=form)
    assert response.status_code == 409
    assert "show it again first" in response.get_data(as_text=True)
    assert public(app3, rally_id).get_json()["place"] == SENT_PLACE


def test_an_edit_from_a_page_drawn_before_another_change_puts_nothing_back(app3) -> None:
    """Review 24c: a moderator's edit from an old tab saved every field it showed, so the
    organizer's newer place (moved because the police knew the first one) came back."""
    rally_id, _token = submitted(app3)
    alesia = moderator_client(app3, "alesia")
    page = alesia.get(f"/moderate/rallies/{rally_id}").get_data(as_text=True)
    drawn = re.search(r'name="version" value="(\d+)"', page.split("moderate/rallies")[-1])
    stale = edit_form(alesia, rally_id, title="Пікет ля ратушы, 19:00", version=drawn[1])
    carol_rewrites(app3, rally_id)  # a change after alesia's page was drawn
    response = alesia.post(f"/moderate/rallies/{rally_id}/edit?lang=en", data=stale)
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "This rally changed after the page was shown" in text
    assert "Пікет ля ратушы, 19:00" in text  # what was typed is kept
    with app3.app_context():
        rally = db.session().get(Rally, rally_id)
        assert rally.place == SEIZED_PLACE and rally.title == TITLE
    # Sent again from the page as it is now, it is saved.
    page = alesia.get(f"/moderate/rallies/{rally_id}").get_data(as_text=True)
    now = re.search(r'name="version" value="(\d+)"', page.split("moderate/rallies")[-1])
    fresh = edit_form(alesia, rally_id, place=SEIZED_PLACE, version=now[1])
    assert alesia.post(f"/moderate/rallies/{rally_id}/edit", data=fresh).status_code == 303


def moved_pin(app: Flask, rally_id: int, lat: float, lon: float = 27.5616) -> None:
    """carol's change of the pin alone, the place's text left as it was (the review's trap):
    in the state table, as an older edit or one through the place's text would have left it."""
    with app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        lifecycle.edit(session, rally, {"lat": lat, "lon": lon}, "moderator:carol")
        session.commit()


def pin_row(page: str) -> str:
    found = re.search(r'<strong class="pin-moved">(.*?)</dd>', page, re.S)
    assert found, page[:3000]
    return found.group(1).replace("\u00a0", " ")


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("be", "метка перамешчана на 1,1 км"),
        ("ru", "метка перемещена на 1,1 км"),
        ("en", "pin moved 1.1 km"),
    ],
)
def test_a_pin_moved_alone_reads_as_moved_and_how_far(app3, lang: str, words: str) -> None:
    """Review 24c: «метка, шырата 52.10894 → 52.11894» said neither that nor how far."""
    rally_id, token = submitted(app3)
    moved_pin(app3, rally_id, 53.9125)  # 0.01° north: 1.1 km
    alesia = moderator_client(app3, "alesia")
    queue = queue_item(alesia.get(f"/moderate?lang={lang}").get_data(as_text=True), rally_id)
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang={lang}").get_data(as_text=True)
    organizer = app3.test_client()
    assert open_manage(organizer, token) == 303
    manage = organizer.get(f"/manage/{token}?lang={lang}").get_data(as_text=True)
    for shown in (queue, page, manage):
        row = pin_row(shown)
        assert row.startswith(words), row
        assert re.search(r"<del>.*53\.90250, 27\.56160.*</del>", row)
        assert re.search(r"<ins>.*53\.91250, 27\.56160.*</ins>", row)
        assert "шырата" not in shown and "широта" not in shown and "latitude" not in shown
    # The moderation page's map has both pins: the organizer's too.
    assert 'data-was-lat="53.9025" data-was-lon="27.5616"' in page
    assert '<div id="pin-was" hidden data-lat="53.9025" data-lon="27.5616">' in manage


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("be", "метка перамешчана на 556 м"),
        ("ru", "метка перемещена на 556 м"),
        ("en", "pin moved 556 m"),
    ],
)
def test_a_pin_moved_less_than_a_kilometre_reads_in_metres(app3, lang: str, words: str) -> None:
    rally_id, _token = submitted(app3)
    moved_pin(app3, rally_id, 53.9075)
    alesia = moderator_client(app3, "alesia")
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang={lang}").get_data(as_text=True)
    assert pin_row(page).startswith(words)


def test_a_moderator_s_edit_does_not_move_the_pin(app3) -> None:
    """The moderation page has no pin to drag and sends none: a posted pin is a made-up
    request, refused whole (the rest of it is not saved either)."""
    rally_id, _token = submitted(app3)
    carol = moderator_client(app3, "carol")
    form = edit_form(carol, rally_id, lat="53.9125", lon="27.5616", title="Пікет у іншым месцы")
    response = carol.post(f"/moderate/rallies/{rally_id}/edit?lang=en", data=form)
    assert response.status_code == 400
    assert "does not move the pin" in response.get_data(as_text=True)
    with app3.app_context():
        rally = db.session().get(Rally, rally_id)
        assert (rally.lat, rally.lon, rally.title) == (53.9025, 27.5616, TITLE)
        assert lifecycle.moderator_changes(db.session(), rally) is None
