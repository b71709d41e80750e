"""Two-person approval (MAPAPP_APPROVALS=2), over HTTP: one moderator's approval changes
nothing any public output shows; a second, different moderator's does. The same moderator
never counts twice, from another session or after a new password."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, fresh_postgres, make_app, open_manage
from fake_telegram import TOKEN
from flask import Flask
from sqlalchemy import select
from test_moderate import PASSWORD, csrf, log_in

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Approval, AuditEntry, PublishedRally, Rally, TelegramOutbox

TITLE = "Пікет ля ратушы двух-асобы"


@pytest.fixture(params=["sqlite", "postgresql"])
def app2(request, sqlite_url: str) -> Iterator[Flask]:  # noqa: ANN001
    """Two approvals publish; the Telegram channel is configured so its outbox fills."""
    app = make_app(
        sqlite_url if request.param == "sqlite" else fresh_postgres(),
        APPROVALS=2,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_CHANNEL="@rallies_by",
        TELEGRAM_API_URL="http://127.0.0.1:9",
    )
    runner = app.test_cli_runner()
    for name in ("alesia", "barys"):
        result = runner.invoke(
            args=["create-moderator", name], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
        )
        assert result.exit_code == 0, result.output
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def moderator_client(app: Flask, name: str):  # noqa: ANN201
    client = app.test_client()
    assert log_in(client, name=name).status_code == 303
    return client


def press(client, rally_id: int, path: str, **data):  # noqa: ANN001, ANN003, ANN201
    token = csrf(client, f"/moderate/rallies/{rally_id}")
    return client.post(f"/moderate/rallies/{rally_id}/{path}", data={"csrf_token": token, **data})


def public_outputs(app: Flask, rally_id: int) -> dict[str, str]:
    """Every public output, as text (a 404 as "404"): a rally is in it or not."""
    anonymous = app.test_client()
    urls = [
        "/api/rallies.geojson",
        "/api/rallies.geojson?lang=en",
        "/api/rallies.geojson?fields=map",
        f"/api/rallies/{rally_id}",
        "/rallies.ics",
        f"/rallies/{rally_id}.ics",
        "/rallies.csv",
        "/rallies?lang=en",
        f"/rallies/{rally_id}?lang=en",
        "/embed?lang=en",
        f"/oembed?url=http://localhost/rallies/{rally_id}",
        "/offline.html",
        f"/share/rallies/{rally_id}-en.png",
        "/",
    ]
    found = {}
    for url in urls:
        response = anonymous.get(url)
        if response.status_code == 404:
            found[url] = "404"
        elif response.mimetype == "image/png":
            found[url] = "a png"
        elif "json" in response.mimetype:
            found[url] = json.dumps(response.get_json(), ensure_ascii=False)
        else:
            found[url] = response.get_data(as_text=True)
        assert response.status_code in (200, 404), (url, response.status_code)
    with app.app_context():
        rows = db.session().scalars(
            select(TelegramOutbox).where(TelegramOutbox.rally_id == rally_id)
        )
        found["telegram outbox"] = " ".join(row.kind for row in rows)
    return found


def shows(app: Flask, rally_id: int, text: str) -> dict[str, bool]:
    outputs = public_outputs(app, rally_id)
    return {url: text in body for url, body in outputs.items()}


def assert_absent(app: Flask, rally_id: int) -> None:
    outputs = public_outputs(app, rally_id)
    for url, body in outputs.items():
        assert TITLE not in body, url
        assert f'"id": {rally_id}' not in body, url
    for url in (f"/api/rallies/{rally_id}", f"/rallies/{rally_id}.ics", f"/rallies/{rally_id}?lang=en",
                f"/oembed?url=http://localhost/rallies/{rally_id}", f"/share/rallies/{rally_id}-en.png"):  # fmt: skip
        assert outputs[url] == "404", url
    assert outputs["telegram outbox"] == ""


def assert_present(app: Flask, rally_id: int) -> None:
    outputs = public_outputs(app, rally_id)
    for url in ("/api/rallies.geojson", "/api/rallies.geojson?lang=en", f"/api/rallies/{rally_id}",
                "/rallies.ics", f"/rallies/{rally_id}.ics", "/rallies.csv", "/rallies?lang=en",
                f"/rallies/{rally_id}?lang=en", f"/oembed?url=http://localhost/rallies/{rally_id}",
                "/offline.html"):  # fmt: skip
        assert TITLE in outputs[url], url
    assert f'"id": {rally_id}' in outputs["/api/rallies.geojson?fields=map"]
    assert outputs[f"/share/rallies/{rally_id}-en.png"] != "404"
    assert outputs["telegram outbox"] == "published"


def test_one_approval_publishes_nothing_the_second_moderators_does(app2) -> None:
    rally_id = add_rally(app2, title=TITLE, status="pending")
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    assert press(alesia, rally_id, "approve").status_code == 303
    assert_absent(app2, rally_id)
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "approved by 1 of 2" in page and "<bdi>alesia</bdi>" in page
    queue = barys.get("/moderate?lang=en").get_data(as_text=True)
    assert "approved by 1 of 2" in queue
    assert press(barys, rally_id, "approve").status_code == 303
    assert_present(app2, rally_id)
    with app2.app_context():
        session = db.session()
        assert session.get(PublishedRally, rally_id).checked_by == 2
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.rally_id == rally_id, AuditEntry.action == "approve"
            )
        ).one()
        assert entry.actor == "moderator:barys" and entry.approvers == "alesia, barys"


def test_one_moderator_in_two_sessions_counts_once(app2) -> None:
    rally_id = add_rally(app2, title=TITLE, status="pending")
    first, second = moderator_client(app2, "alesia"), moderator_client(app2, "alesia")
    assert press(first, rally_id, "approve").status_code == 303
    assert press(second, rally_id, "approve").status_code == 303
    assert_absent(app2, rally_id)
    # A new password (create-moderator again) is the same account: still one approval.
    result = app2.test_cli_runner().invoke(
        args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": "another password 2"}
    )
    assert result.exit_code == 0, result.output
    third = app2.test_client()
    assert log_in(third, name="alesia", password="another password 2").status_code == 303
    assert press(third, rally_id, "approve").status_code == 303
    assert_absent(app2, rally_id)
    with app2.app_context():
        assert len(db.session().scalars(select(Approval)).all()) == 1
    assert press(moderator_client(app2, "barys"), rally_id, "approve").status_code == 303
    assert_present(app2, rally_id)


def test_an_organizers_new_time_and_their_new_text_each_need_two_approvals(app2) -> None:
    rally_id = add_rally(app2, title=TITLE)  # imported, public
    with app2.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        from mapapp.domain import lifecycle

        new_time = rally.starts_at.replace(hour=rally.starts_at.hour + 1)
        lifecycle.edit(session, rally, {"starts_at": new_time}, lifecycle.ORGANIZER)
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    press(alesia, rally_id, "approve")
    ics = app2.test_client().get(f"/rallies/{rally_id}.ics").get_data(as_text=True)
    assert "T190000" in ics and "T200000" not in ics  # the approved time (Minsk) stays public
    press(barys, rally_id, "approve")
    ics = app2.test_client().get(f"/rallies/{rally_id}.ics").get_data(as_text=True)
    assert "T200000" in ics
    # Text only needs two as well: a seized manage link's title "cancelled, stay home" keeps
    # people away like a cancel does (docs/moderators.md).
    with app2.app_context():
        session = db.session(write=True)
        lifecycle.edit(
            session,
            session.get(Rally, rally_id),
            {"title": "Адменена, заставайцеся дома"},
            lifecycle.ORGANIZER,
        )
    press(alesia, rally_id, "approve")
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["title"] == TITLE
    press(barys, rally_id, "approve")
    assert (
        app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["title"]
        == "Адменена, заставайцеся дома"
    )
    with app2.app_context():
        assert db.session().get(PublishedRally, rally_id).checked_by == 2  # place and time: two


def test_a_moderators_new_place_waits_for_a_second_moderator(app2) -> None:
    rally_id = add_rally(app2, title=TITLE)
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    year = datetime.now(UTC).year + 1
    form = {
        "csrf_token": csrf(alesia, f"/moderate/rallies/{rally_id}"),
        "title": TITLE,
        "description": "Апісанне",
        "town": "Мінск",
        "place": "Кастрычніцкая плошча",
        "date": f"{year}-06-01",
        "time": "19:00",  # no pin: the moderation form sends none (the place is looked up)
    }
    response = alesia.post(f"/moderate/rallies/{rally_id}/edit", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    public = app2.test_client().get(f"/api/rallies/{rally_id}").get_json()
    assert public["place"] == "Плошча Свабоды"
    assert public["status"] == "approved"
    page = barys.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "approved by 1 of 2" in page
    press(barys, rally_id, "approve")
    public = app2.test_client().get(f"/api/rallies/{rally_id}").get_json()
    assert public["place"] == "Кастрычніцкая плошча"
    assert public["status"] == "moved"


def test_a_moderators_text_only_edit_waits_for_a_second_moderator(app2) -> None:
    """One seized account cannot write "cancelled, stay home" into a public rally's title."""
    rally_id = add_rally(app2, title=TITLE)
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    year = datetime.now(UTC).year + 1
    form = {
        "csrf_token": csrf(alesia, f"/moderate/rallies/{rally_id}"),
        "title": "Адменена, заставайцеся дома",
        "description": "Апісанне",
        "town": "Мінск",
        "place": "Плошча Свабоды",
        "date": f"{year}-06-01",
        "time": "19:00",
    }
    response = alesia.post(f"/moderate/rallies/{rally_id}/edit", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["title"] == TITLE
    assert TITLE in app2.test_client().get(f"/rallies/{rally_id}.ics").get_data(as_text=True)
    page = barys.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "approved by 1 of 2" in page
    press(barys, rally_id, "approve")
    public = app2.test_client().get(f"/api/rallies/{rally_id}").get_json()
    assert public["title"] == "Адменена, заставайцеся дома"
    assert public["status"] == "approved"


@pytest.mark.parametrize(
    ("start", "path", "data", "after"),
    [
        ("approved", "cancel", {}, "cancelled"),
        ("approved", "status/move", {}, "moved"),
        ("cancelled", "status/restore", {}, "approved"),
        ("approved", "reject", {"reason": "Пастка"}, None),
    ],
)
def test_take_down_cancel_restore_and_moved_need_two(app2, start, path, data, after) -> None:
    rally_id = add_rally(app2, title=TITLE, status=start)
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    assert press(alesia, rally_id, path, **data).status_code == 303
    assert press(moderator_client(app2, "alesia"), rally_id, path, **data).status_code == 303
    answer = app2.test_client().get(f"/api/rallies/{rally_id}").get_json()
    assert answer["status"] == start
    assert press(barys, rally_id, path, **data).status_code == 303
    answer = app2.test_client().get(f"/api/rallies/{rally_id}")
    if after is None:
        assert answer.status_code == 404
    else:
        assert answer.get_json()["status"] == after


def test_danger_is_one_step_shows_who_and_a_second_moderator_lifts_or_confirms(app2) -> None:
    rally_id = add_rally(app2, title=TITLE)
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    press(alesia, rally_id, "status/danger", confirm="y")
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "danger"
    page = barys.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Danger warning set by <bdi>alesia</bdi>" in page and "not yet confirmed" in page
    press(alesia, rally_id, "status/clear_danger")  # the one who set it cannot lift it alone
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "danger"
    press(barys, rally_id, "status/clear_danger")  # a second moderator lifts it
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "approved"
    # Confirmed by a second moderator, the warning needs two to lift.
    press(alesia, rally_id, "status/danger", confirm="y")
    press(barys, rally_id, "status/confirm_danger")
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "confirmed by <bdi>barys</bdi>" in page
    press(barys, rally_id, "status/clear_danger")
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "danger"
    press(alesia, rally_id, "status/clear_danger")
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "approved"


def test_an_organizers_danger_and_cancel_stay_one_step(app2) -> None:
    from mapapp.domain import lifecycle

    rally_id = add_rally(app2, title=TITLE)
    with app2.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, rally_id), lifecycle.ORGANIZER, "danger")
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "danger"
    with app2.app_context():
        session = db.session(write=True)
        lifecycle.cancel_by_organizer(session, session.get(Rally, rally_id))
    answer = app2.test_client().get(f"/api/rallies/{rally_id}").get_json()
    assert answer["status"] == "cancelled"


def test_the_default_is_two_and_one_in_development(sqlite_url) -> None:
    assert make_app(sqlite_url, APPROVALS=None).config["APPROVALS"] == 2
    assert make_app(sqlite_url, APPROVALS=None, DEVELOPMENT=True).config["APPROVALS"] == 1
    assert make_app(sqlite_url, APPROVALS="3").config["APPROVALS"] == 3


def test_an_organizer_two_moderators_know_needs_one_approval_fewer(app2) -> None:
    from test_submit import submit

    organizer = app2.test_client()
    first_link = submit(organizer, title="Першая акцыя").replace("http://localhost", "")
    with app2.app_context():
        first = db.session().scalars(select(Rally).where(Rally.title == "Першая акцыя")).one().id
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    press(alesia, first, "approve")
    press(barys, first, "approve")
    # One moderator alone cannot make an organizer known: that would halve the rule.
    press(alesia, first, "status/trust_organizer")
    page = barys.get(f"/moderate/rallies/{first}?lang=en").get_data(as_text=True)
    assert "Mark the organizer as known: approved by 1 of 2" in page
    press(barys, first, "status/trust_organizer")
    page = barys.get(f"/moderate/rallies/{first}?lang=en").get_data(as_text=True)
    assert "Known to the moderators" in page
    # The organizer's next rally, from the manage page: one moderator publishes it.
    token = csrf(organizer, first_link)
    another = organizer.post(f"{first_link}/another", data={"csrf_token": token})
    assert another.status_code == 303 and another.headers["Location"].endswith("/submit")
    submit(organizer, title="Другая акцыя")
    with app2.app_context():
        second = db.session().scalars(select(Rally).where(Rally.title == "Другая акцыя")).one().id
    press(alesia, second, "approve")
    answer = app2.test_client().get(f"/api/rallies/{second}?lang=en").get_json()
    assert answer["verification"] == "known-organizer"
    assert answer["verification_text"] == (
        "Organizer known to the moderators; checked by one moderator."
    )
    # A rally from someone else (no manage page of a known organizer) still needs two.
    stranger = app2.test_client()
    submit(stranger, title="Чужая акцыя")
    with app2.app_context():
        third = db.session().scalars(select(Rally).where(Rally.title == "Чужая акцыя")).one().id
    press(alesia, third, "approve")
    assert app2.test_client().get(f"/api/rallies/{third}").status_code == 404
    # Taken back by one moderator: the next rally needs two again.
    press(barys, first, "status/untrust_organizer")
    submit(organizer, title="Трэцяя акцыя")
    with app2.app_context():
        fourth = db.session().scalars(select(Rally).where(Rally.title == "Трэцяя акцыя")).one().id
    press(alesia, fourth, "approve")
    assert app2.test_client().get(f"/api/rallies/{fourth}").status_code == 404


def test_one_moderator_alone_gets_no_manage_link_of_a_public_rally(app2) -> None:
    """A new manage link is the organizer's one-step cancel and danger, and a known
    organizer's "Submit another rally" (one approval fewer): one seized account that could
    make one alone would cancel any rally, or publish a trap with its own single approval."""
    from test_submit import submit

    organizer = app2.test_client()
    old_link = submit(organizer, title=TITLE).replace("http://localhost", "")
    with app2.app_context():
        rally_id = db.session().scalars(select(Rally).where(Rally.title == TITLE)).one().id
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    press(alesia, rally_id, "approve")
    press(barys, rally_id, "approve")
    press(alesia, rally_id, "status/trust_organizer")
    press(barys, rally_id, "status/trust_organizer")
    alone = press(barys, rally_id, "manage-link")
    assert alone.status_code == 303
    assert "/manage/" not in alone.get_data(as_text=True)
    page = barys.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Make a new manage link: approved by 1 of 2" in page
    assert open_manage(organizer, old_link.rsplit("/", 1)[1]) == 303  # it still works
    # The same account again (another session) adds nothing.
    again = press(moderator_client(app2, "barys"), rally_id, "manage-link")
    assert again.status_code == 303 and "/manage/" not in again.get_data(as_text=True)
    # A second moderator's press makes the link, shown to them once.
    made = press(alesia, rally_id, "manage-link")
    assert made.status_code == 200
    new_link = re.search(
        r'id="manage-link">http://localhost(/manage/[^<]+)<', made.get_data(as_text=True)
    )
    assert new_link is not None
    assert organizer.get(old_link).status_code == 404  # opened before, dead now
    assert open_manage(organizer, old_link.rsplit("/", 1)[1]) == 404
    assert open_manage(app2.test_client(), new_link.group(1).rsplit("/", 1)[1]) == 303
    with app2.app_context():
        entry = (
            db.session()
            .scalars(
                select(AuditEntry).where(
                    AuditEntry.rally_id == rally_id, AuditEntry.action == "new-manage-link"
                )
            )
            .one()
        )
        assert entry.approvers == "barys, alesia"
    # Those two approvals are spent: the next link takes two moderators again.
    later = press(barys, rally_id, "manage-link")
    assert later.status_code == 303 and "/manage/" not in later.get_data(as_text=True)
    assert open_manage(app2.test_client(), new_link.group(1).rsplit("/", 1)[1]) == 303


def test_trust_taken_back_is_given_again_only_by_two(app2) -> None:
    """Two moderators' old approvals of "known organizer" do not count again after one
    moderator took the mark back: a seized account would restore it alone."""
    rally_id = add_rally(app2, title=TITLE)
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    press(alesia, rally_id, "status/trust_organizer")
    press(barys, rally_id, "status/trust_organizer")
    page = barys.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Known to the moderators" in page
    press(barys, rally_id, "status/untrust_organizer")
    press(alesia, rally_id, "status/trust_organizer")
    page = barys.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Known to the moderators" not in page
    assert "Mark the organizer as known: approved by 1 of 2" in page


def test_one_moderator_cannot_hide_a_public_rallys_place_until_it_starts(app2) -> None:
    """The time the exact place shows applies at once (it adds no text), but one seized account
    that set it to a minute before the start would keep everyone away, as a cancel does."""
    year = datetime.now(UTC).year + 1
    starts = datetime(year, 6, 1, 16, 0, tzinfo=UTC)  # 19:00 in Minsk
    rally_id = add_rally(app2, title=TITLE, starts_at=starts, reveal_at=starts - timedelta(hours=2))
    alesia = moderator_client(app2, "alesia")
    form = {
        "csrf_token": csrf(alesia, f"/moderate/rallies/{rally_id}"),
        "title": TITLE,
        "description": "Апісанне",
        "town": "Мінск",
        "place": "Плошча Свабоды",
        "date": f"{year}-06-01",
        "time": "19:00",
        "reveal": "at",
        "reveal_date": f"{year}-06-01",
        "reveal_time": "18:59",
    }
    response = alesia.post(f"/moderate/rallies/{rally_id}/edit?lang=en", data=form)
    assert response.status_code == 422  # beside the reveal choice, what was typed kept
    assert "ask the organizer" in response.get_data(as_text=True)
    with app2.app_context():
        assert db.session().get(PublishedRally, rally_id).reveal_at == starts - timedelta(hours=2)
    # Showing it sooner is the organizer's (one moderator's is refused: see below).
    with app2.app_context():
        session = db.session(write=True)
        lifecycle.set_reveal(session, session.get(Rally, rally_id), None, "organizer")
        session.commit()
    public = app2.test_client().get(f"/api/rallies/{rally_id}").get_json()
    assert public["place"] == "Плошча Свабоды"
    # Once shown, nobody hides it again.
    form.update(reveal="at", csrf_token=csrf(alesia, f"/moderate/rallies/{rally_id}"))
    response = alesia.post(f"/moderate/rallies/{rally_id}/edit?lang=en", data=form)
    assert response.status_code == 422
    assert "cannot be hidden again" in response.get_data(as_text=True)


def test_one_moderator_alone_cannot_lift_another_moderators_danger_warning(app2) -> None:
    """A warning "police are at the place" lifted by one seized account sends people into
    the trap: lifting takes MAPAPP_APPROVALS moderators, the one who set it may be one."""
    rally_id = add_rally(app2, title=TITLE)
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    press(alesia, rally_id, "status/danger", confirm="y")
    press(barys, rally_id, "status/clear_danger")  # the seized one, alone
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "danger"
    page = alesia.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Remove the danger warning: approved by 1 of 2" in page
    press(alesia, rally_id, "status/clear_danger")
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"] == "approved"


def test_one_moderator_sets_a_few_danger_warnings_alone_and_then_needs_a_second(app2) -> None:
    """A seized moderator account must not mark every rally dangerous (it would keep
    everyone home): DANGER_ALONE_PER_HOUR warnings alone an hour, then each waits for a
    second moderator, who confirms it by marking it too; the hour passed, one alone again."""
    limit = app2.config["DANGER_ALONE_PER_HOUR"]
    assert limit == 3  # the default
    ids = [add_rally(app2, title=f"{TITLE} {n}") for n in range(limit + 2)]
    alesia, barys = moderator_client(app2, "alesia"), moderator_client(app2, "barys")
    anonymous = app2.test_client()

    def status(rally_id: int) -> str:
        return anonymous.get(f"/api/rallies/{rally_id}").get_json()["status"]

    for rally_id in ids[:limit]:
        press(alesia, rally_id, "status/danger", confirm="y")
        assert status(rally_id) == "danger"
    before = public_outputs(app2, ids[limit])
    answer = press(alesia, ids[limit], "status/danger", confirm="y")
    assert answer.status_code == 303
    page = alesia.get(answer.headers["Location"] + "?lang=en").get_data(as_text=True)
    # Said in the language of the press (Belarusian, the default), with the number's form.
    assert "можа адзін паставіць за гадзіну 3 папярэджанні пра небяспеку" in page
    assert "зацвердзілі 1 з 2" in page
    assert status(ids[limit]) == "approved"
    assert public_outputs(app2, ids[limit]) == before  # nothing public changed
    # The other moderators see it waiting, named as the button they would press, and at the
    # top of their queue (not found only by opening every rally).
    page = barys.get(f"/moderate/rallies/{ids[limit]}?lang=en").get_data(as_text=True)
    assert "Danger: do not come: approved by 1 of 2 (<bdi>alesia</bdi>)" in page
    queue = barys.get("/moderate?lang=en").get_data(as_text=True)
    waiting = queue[queue.index('id="dangers-waiting"') :]
    assert f"{TITLE} {limit}" in waiting[: waiting.index("</ul>")]
    # An edit of the rally (anyone's: a new version) leaves it waiting, not dropped unseen.
    with app2.app_context():
        session = db.session(write=True)
        lifecycle.edit(
            session, session.get(Rally, ids[limit]), {"description": "Новае"}, "organizer"
        )
    page = barys.get(f"/moderate/rallies/{ids[limit]}?lang=en").get_data(as_text=True)
    assert "Danger: do not come: approved by 1 of 2 (<bdi>alesia</bdi>)" in page
    # A second moderator marks it too: it is dangerous, set by both (confirmed already).
    press(barys, ids[limit], "status/danger", confirm="y")
    assert status(ids[limit]) == "danger"
    page = barys.get(f"/moderate/rallies/{ids[limit]}?lang=en").get_data(as_text=True)
    assert "not yet confirmed" not in page
    assert "<bdi>alesia</bdi>" in page and "<bdi>barys</bdi>" in page
    # Each moderator has their own count: barys, who set none alone, still can.
    press(barys, ids[limit + 1], "status/danger", confirm="y")
    assert status(ids[limit + 1]) == "danger"
    assert "dangers-waiting" not in barys.get("/moderate?lang=en").get_data(as_text=True)
    # Warnings a second moderator confirmed no longer count as alone: alesia may again.
    for rally_id in ids[:limit]:
        press(barys, rally_id, "status/confirm_danger")
    extra = add_rally(app2, title=f"{TITLE} extra")
    press(alesia, extra, "status/danger", confirm="y")
    assert status(extra) == "danger"
    # An hour later alesia may warn alone again.
    with app2.app_context():
        session = db.session(write=True)
        for approval in session.scalars(select(Approval).where(Approval.action == "danger")):
            approval.at = approval.at - timedelta(minutes=61)
        session.commit()
    press(alesia, ids[limit + 1], "status/clear_danger")
    press(barys, ids[limit + 1], "status/clear_danger")
    assert status(ids[limit + 1]) == "approved"
    press(alesia, ids[limit + 1], "status/danger", confirm="y")
    assert status(ids[limit + 1]) == "danger"


@pytest.mark.parametrize(("approvals", "limit", "alone"), [(2, 0, False), (1, 0, True)])
def test_the_danger_limit_follows_its_setting_and_needs_two_moderators_to_matter(
    sqlite_url: str, approvals: int, limit: int, alone: bool
) -> None:
    """0 warnings alone: every moderator's danger waits for a second one; with one moderator
    needed for everything (APPROVALS=1) there is no second to wait for, so no limit."""
    app = make_app(sqlite_url, APPROVALS=approvals, DANGER_ALONE_PER_HOUR=limit)
    result = app.test_cli_runner().invoke(
        args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
    )
    assert result.exit_code == 0, result.output
    rally_id = add_rally(app, title=TITLE)
    press(moderator_client(app, "alesia"), rally_id, "status/danger", confirm="y")
    status = app.test_client().get(f"/api/rallies/{rally_id}").get_json()["status"]
    assert status == ("danger" if alone else "approved")
    app.extensions["mapapp.db"]["engine"].dispose()


def test_one_moderator_cannot_show_a_hidden_place_sooner(app2) -> None:
    """Once public a place stays public (the copies keep it): one seized account that showed
    every hidden place at once would give them all away before their time (review 24c)."""
    year = datetime.now(UTC).year + 1
    reveal_at = datetime(year, 6, 1, 14, 0, tzinfo=UTC)
    rally_id = add_rally(app2, title=TITLE, reveal_at=reveal_at)
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["place"] is None
    alesia = moderator_client(app2, "alesia")
    form = {
        "csrf_token": csrf(alesia, f"/moderate/rallies/{rally_id}"),
        "title": TITLE,
        "description": "Апісанне",
        "town": "Мінск",
        "place": "Плошча Свабоды",
        "date": f"{year}-06-01",
        "time": "19:00",
        "reveal": "now",
    }
    response = alesia.post(f"/moderate/rallies/{rally_id}/edit?lang=en", data=form)
    assert response.status_code == 422  # beside the reveal choice, what was typed kept
    assert "cannot show a hidden place sooner" in response.get_data(as_text=True)
    assert app2.test_client().get(f"/api/rallies/{rally_id}").get_json()["place"] is None
    with app2.app_context():
        assert db.session().get(PublishedRally, rally_id).reveal_at is not None
