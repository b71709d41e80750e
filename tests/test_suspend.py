"""Two moderators suspend a third over HTTP: the first proposes, the second confirms; every
session of the suspended one ends at once, their waiting approvals stop counting, and the
rallies they changed in the last hours go back to what they were, in every public output."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import add_rally, fresh_postgres, make_app
from flask import Flask
from sqlalchemy import select
from test_approvals import moderator_client, press
from test_moderate import PASSWORD, csrf, log_in

from mapapp.domain import db, lifecycle
from mapapp.domain.models import AuditEntry, DataVersion, Moderator, PublishedRally, Rally


@pytest.fixture(params=["sqlite", "postgresql"])
def app3(request, sqlite_url: str) -> Iterator[Flask]:  # noqa: ANN001
    app = make_app(sqlite_url if request.param == "sqlite" else fresh_postgres(), APPROVALS=2)
    runner = app.test_cli_runner()
    for name in ("alesia", "barys", "cypryan"):
        result = runner.invoke(
            args=["create-moderator", name], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
        )
        assert result.exit_code == 0, result.output
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def moderator_id(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session().scalars(select(Moderator.id).where(Moderator.name == name)).one()


def vote(client, app: Flask, name: str, hours: int):  # noqa: ANN001, ANN201
    token = csrf(client, "/moderate/moderators")
    return client.post(
        f"/moderate/moderators/{moderator_id(app, name)}/suspend",
        data={"csrf_token": token, "hours": str(hours)},
    )


def public_status(app: Flask, rally_id: int) -> str | None:
    feature = app.test_client().get(f"/api/rallies/{rally_id}")
    return None if feature.status_code == 404 else feature.get_json()["status"]


def test_two_moderators_suspend_a_third_and_revert_their_actions(app3) -> None:
    warned = add_rally(app3, title="Пікет, які пазначылі небяспечным")
    published = add_rally(app3, title="Пастка на плошчы", status="pending")
    waiting = add_rally(app3, title="Яшчэ адзін пікет", status="pending")
    untouched = add_rally(app3, title="Пікет без змен")
    alesia, barys = moderator_client(app3, "alesia"), moderator_client(app3, "barys")
    cypryan = moderator_client(app3, "cypryan")
    # The seized account: a false danger warning (one step), a trap published with an
    # honest moderator's second approval, and an approval waiting for another.
    assert press(cypryan, warned, "status/danger", confirm="y").status_code == 303
    assert press(cypryan, published, "approve").status_code == 303
    assert press(alesia, published, "approve").status_code == 303
    assert press(cypryan, waiting, "approve").status_code == 303
    assert public_status(app3, warned) == "danger"
    assert public_status(app3, published) == "approved"
    with app3.app_context():
        version = db.session().get(DataVersion, 1).version

    # One proposal changes nothing; the same moderator twice counts once.
    assert vote(alesia, app3, "cypryan", 24).status_code == 303
    assert vote(alesia, app3, "cypryan", 24).status_code == 303
    assert cypryan.get("/moderate").status_code == 200
    page = barys.get("/moderate/moderators?lang=en").get_data(as_text=True)
    assert "alesia proposes to suspend this moderator and revert their last 24 hours" in page
    # The target cannot vote on their own suspension.
    assert vote(cypryan, app3, "cypryan", 24).status_code == 409

    assert vote(barys, app3, "cypryan", 24).status_code == 303
    # Every session of the suspended moderator ends at once; no new log-in.
    assert cypryan.get("/moderate").status_code == 302
    assert log_in(app3.test_client(), name="cypryan").status_code == 403
    # Each rally they changed is back as it was, in every public output.
    assert public_status(app3, warned) == "approved"
    assert public_status(app3, published) is None
    assert public_status(app3, untouched) == "approved"
    assert "Пастка на плошчы" not in app3.test_client().get("/rallies.ics").get_data(as_text=True)
    with app3.app_context():
        session = db.session()
        assert session.get(Rally, published).status == "pending"
        assert session.get(PublishedRally, published) is None
        assert session.get(DataVersion, 1).version > version
        suspended = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "suspend_moderator")
        ).one()
        assert suspended.approvers == "alesia, barys"
        assert suspended.detail.startswith("cypryan; 24 h")
        reverts = session.scalars(select(AuditEntry).where(AuditEntry.action == "revert")).all()
        assert {entry.rally_id for entry in reverts} == {warned, published}
        assert all(entry.approvers == "alesia, barys" for entry in reverts)
    # Their approval that waited no longer counts: one more approval is still one of two.
    assert press(alesia, waiting, "approve").status_code == 303
    assert public_status(app3, waiting) is None
    log = alesia.get("/moderate/log?lang=en").get_data(as_text=True)
    assert "suspended a moderator" in log and "alesia, barys" in log


def test_different_hours_are_different_proposals_and_bad_hours_are_refused(app3) -> None:
    alesia, barys = moderator_client(app3, "alesia"), moderator_client(app3, "barys")
    cypryan = moderator_client(app3, "cypryan")
    assert vote(alesia, app3, "cypryan", 24).status_code == 303
    assert vote(barys, app3, "cypryan", 2).status_code == 303
    assert cypryan.get("/moderate").status_code == 200
    assert vote(barys, app3, "cypryan", 1000).status_code == 422
    assert vote(barys, app3, "cypryan", 24).status_code == 303
    assert cypryan.get("/moderate").status_code == 302
    result = app3.test_cli_runner().invoke(args=["reinstate-moderator", "cypryan"])
    assert result.exit_code == 0, result.output
    assert log_in(app3.test_client(), name="cypryan").status_code == 303


def test_a_manage_link_the_suspended_moderator_replaced_works_again(app3) -> None:
    """A seized account cuts an organizer off with a new manage link it asked for (and keeps
    it): after the suspension the organizer's own link works again and the seized one does not."""
    with app3.app_context():
        session = db.session(write=True)
        rally, token = lifecycle.submit(
            session,
            {
                "title": "Пікет арганізатара",
                "description": "Апісанне",
                "town": "Мінск",
                "place": "Плошча Свабоды",
                "region": "BY-HM",
                "lat": 53.9036,
                "lon": 27.5561,
                "starts_at": datetime(datetime.now(UTC).year + 1, 6, 1, 16, tzinfo=UTC),
            },
        )
        rally_id = rally.id
    alesia, barys = moderator_client(app3, "alesia"), moderator_client(app3, "barys")
    cypryan = moderator_client(app3, "cypryan")
    # The seized account asks; a second moderator, misled, makes the link (one alone cannot).
    assert press(cypryan, rally_id, "manage-link").status_code == 303
    answer = press(alesia, rally_id, "manage-link")
    seized = re.search(r'id="manage-link">[^<]*/manage/([^<]+)<', answer.get_data(as_text=True)).group(1)  # fmt: skip
    organizer = app3.test_client()
    assert organizer.get(f"/manage/{token}").status_code == 404
    assert organizer.get(f"/manage/{seized}").status_code == 200
    assert vote(alesia, app3, "cypryan", 1).status_code == 303
    assert vote(barys, app3, "cypryan", 1).status_code == 303
    assert organizer.get(f"/manage/{token}").status_code == 200
    assert organizer.get(f"/manage/{seized}").status_code == 404
