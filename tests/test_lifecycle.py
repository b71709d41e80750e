"""The rally's state machine: every (actor, action, state), and only reviewed text in public."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, open_manage
from flask import Flask
from test_moderate import PASSWORD, csrf, log_in

from mapapp.domain import db, lifecycle
from mapapp.domain.lifecycle import LIVE, NEW, TRANSITIONS, Refused
from mapapp.domain.models import PUBLIC_STATUSES, Rally, Status
from mapapp.domain.signals import public_change
from mapapp.publishing.public import public_rally

ACTORS = {"organizer": "organizer", "moderator": "moderator:m", "system": "import"}
ACTIONS = sorted({action for _, action, _ in TRANSITIONS})
STATES = [status.value for status in Status]
APPROVED_TEXT = "Approved text"


@pytest.fixture
def moderator(app, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0


def fields() -> dict:
    starts = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)
    return {
        "title": APPROVED_TEXT,
        "description": "Approved description",
        "town": "Мінск",
        "place": "Плошча Свабоды",
        "region": "BY-HM",
        "lat": 53.9036,
        "lon": 27.5561,
        "starts_at": starts,
        "contact": "private@example.org",
    }


def rally_in(session, state: str, with_edit: bool) -> Rally:  # noqa: ANN001
    """A rally brought to `state` through the table; a live one with an organizer's edit
    waiting when `with_edit`."""
    approved = state not in (Status.PENDING.value, Status.WITHDRAWN.value)
    values = fields() if approved else {**fields(), "title": "Unreviewed new"}
    rally = lifecycle.create(session, values, approved)
    steps = {
        "cancelled": [("moderator:m", "cancel")],
        "danger": [("organizer", "danger")],
        "moved": [("moderator:m", "move")],
        "rejected": [("moderator:m", "reject")],  # taken down after it was public
        "withdrawn": [("organizer", "cancel")],
    }.get(state, [])
    for actor, action in steps:
        lifecycle.perform(session, rally, actor, action, reason="r")
    if with_edit:
        lifecycle.edit(session, rally, {"title": "Unreviewed edit"}, "organizer")
        assert rally.changes_pending
    assert rally.status == state
    return rally


def run(session, rally: Rally, actor: str, action: str) -> None:  # noqa: ANN001
    kind = lifecycle.actor_kind(actor)
    if action == "edit":
        lifecycle.edit(session, rally, {"title": f"Edited by {kind}"}, actor)
    elif action == "reveal":
        # Hidden till an hour before if nothing is public yet, else shown (a minute ago): a
        # place the public has seen is never hidden again (test_reveal_rules).
        public = lifecycle.published(session, rally) is not None
        shown = datetime.now(UTC) - timedelta(minutes=1)
        lifecycle.set_reveal(
            session, rally, shown if public else rally.starts_at - timedelta(hours=1), actor
        )
    elif action in ("submit", "import", "import_approved"):
        lifecycle.transition(rally, actor, action)  # only from "new": refused here
    elif action == "approve" and kind == "moderator":
        lifecycle.approve(session, rally, actor) if rally.status not in LIVE else (
            lifecycle.perform(session, rally, actor, action)
        )
    else:
        lifecycle.perform(session, rally, actor, action, reason="r")


CASES = [
    (kind, action, state, with_edit)
    for kind in ACTORS
    for action in ACTIONS
    for state in STATES
    for with_edit in ((False, True) if state in LIVE else (False,))
]


def test_every_state_is_covered_by_the_table():
    froms = {state for _, _, state in TRANSITIONS}
    assert froms == {NEW, *STATES} - {Status.WITHDRAWN.value}  # withdrawn is final
    assert set(TRANSITIONS.values()) <= set(STATES)


def test_every_actor_action_and_state(app: Flask):
    """Allowed ones reach the table's state; the rest are refused and change nothing; the
    public text is always text a moderator approved."""
    sent = []

    def listen(sender, **kw) -> None:  # noqa: ANN001, ANN003
        sent.append(kw["kind"])

    with public_change.connected_to(listen), app.test_request_context("/?lang=en"):
        session = db.session(write=True)  # a GET's context (for the language) that writes
        for kind, action, state, with_edit in CASES:
            case = f"{kind} {action} {state} edit={with_edit}"
            rally = rally_in(session, state, with_edit)
            public_before = public_rally(session, rally.id)
            to = TRANSITIONS.get((kind, action, state))
            needs_edit = action in ("approve_changes", "approve_move", "reject_changes")
            if needs_edit and not with_edit:
                to = None  # nothing is waiting: refused although the row exists
            if action in ("submit", "import", "import_approved"):
                to = None
            if to is None:
                with pytest.raises(Refused) as refused:
                    run(session, rally, ACTORS[kind], action)
                assert str(refused.value.message), case
                session.rollback()
                assert session.get(Rally, rally.id).status == state, case
                assert public_rally(session, rally.id) == public_before, case
                continue
            run(session, rally, ACTORS[kind], action)
            assert rally.status == to, case
            public = public_rally(session, rally.id)
            assert (public is not None) == (to in PUBLIC_STATUSES), case
            if public is None:
                continue
            assert public.status == to, case
            # Only what a moderator saw is public: never the organizer's waiting edit.
            assert "Unreviewed" not in public.title or (
                kind == "moderator" and action in ("approve", "approve_changes", "approve_move")
            ), case
            assert not public.title.startswith("Edited by organizer"), case
            if kind != "moderator" or action not in ("edit", "approve_changes", "approve_move"):
                assert public.title in (APPROVED_TEXT, "Unreviewed new"), case
            else:
                assert public.title == rally.title, case
        # Public changes told listeners; a refused one or a pending-only one did not.
        assert "published" in sent and "taken_down" in sent and "danger" in sent


def test_cancel_of_an_edited_rally_cancels_the_approved_version(client, app):
    """Issue 11 §1: approved, edited by link, then cancelled by link."""
    with app.app_context():
        session = db.session()
        rally = rally_in(session, "approved", with_edit=True)
        lifecycle.cancel_by_organizer(session, rally)
        rally_id = rally.id
        assert not rally.changes_pending and rally.title == APPROVED_TEXT
    outputs = [
        client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True),
        client.get(f"/api/rallies/{rally_id}").get_data(as_text=True),
        client.get("/api/rallies.geojson?when=all").get_data(as_text=True),
        client.get(f"/rallies/{rally_id}.ics").get_data(as_text=True),
        client.get("/rallies.csv?when=all").get_data(as_text=True),
    ]
    for text in outputs:
        assert APPROVED_TEXT in text and "Unreviewed" not in text
    assert "This rally is cancelled." in outputs[0]
    assert "STATUS:CANCELLED" in outputs[3]


def test_taken_down_rally_never_comes_back_by_the_organizers_cancel(client, app):
    with app.app_context():
        session = db.session()
        rally = rally_in(session, "rejected", with_edit=False)
        lifecycle.cancel_by_organizer(session, rally)
        assert rally.status == Status.WITHDRAWN.value
        assert public_rally(session, rally.id) is None
        rally_id = rally.id
    assert client.get(f"/rallies/{rally_id}").status_code == 404


def test_moderators_cancel_of_a_pending_rally_is_refused_with_409(client, app, moderator):
    rally_id = add_rally(app, title="Never reviewed", status="pending")
    log_in(client)
    token = csrf(client, f"/moderate/rallies/{rally_id}")
    response = client.post(
        f"/moderate/rallies/{rally_id}/cancel?lang=en", data={"csrf_token": token}
    )
    assert response.status_code == 409
    assert "waiting for a moderator" in response.get_data(as_text=True)
    assert "Never reviewed" not in client.get("/rallies?when=all").get_data(as_text=True)
    assert client.get(f"/api/rallies/{rally_id}").status_code == 404


def test_approving_an_edit_publishes_it_and_a_new_place_marks_it_moved(client, app, moderator):
    with app.app_context():
        session = db.session()
        rally = rally_in(session, "approved", with_edit=False)
        lifecycle.edit(
            session, rally, {"place": "Кастрычніцкая плошча", "lat": 53.9022}, "organizer"
        )
        rally_id = rally.id
    assert client.get(f"/api/rallies/{rally_id}").get_json()["place"] == "Плошча Свабоды"
    log_in(client)
    queue = client.get("/moderate").get_data(as_text=True)
    assert f"/moderate/rallies/{rally_id}" in queue  # the waiting edit is in the queue
    token = csrf(client, f"/moderate/rallies/{rally_id}")
    client.post(f"/moderate/rallies/{rally_id}/approve", data={"csrf_token": token})
    data = client.get(f"/api/rallies/{rally_id}").get_json()
    assert data["place"] == "Кастрычніцкая плошча" and data["status"] == "moved"


def test_rejecting_an_edit_keeps_the_published_version(client, app, moderator):
    with app.app_context():
        rally = rally_in(db.session(), "approved", with_edit=True)
        rally_id = rally.id
    log_in(client)
    token = csrf(client, f"/moderate/rallies/{rally_id}")
    client.post(
        f"/moderate/rallies/{rally_id}/reject-changes", data={"csrf_token": token, "reason": "No"}
    )
    with app.app_context():
        rally = db.session().get(Rally, rally_id)
        assert rally.title == APPROVED_TEXT and not rally.changes_pending
    data = client.get(f"/api/rallies/{rally_id}").get_json()
    assert data["title"] == APPROVED_TEXT and data["status"] == "approved"


def test_organizer_sets_danger_in_one_step_and_everyone_sees_it(client, app):
    from mapapp.domain.lifecycle import hash_token

    rally_id = add_rally(app, manage_token_hash=hash_token("tok"), title="Danger rally")
    open_manage(client, "tok")
    page = client.get("/manage/tok?lang=en").get_data(as_text=True)
    assert "only a moderator can lift it" in page
    # without the ticked box nothing happens: the box says only a moderator can lift it
    unticked = client.post(
        "/manage/tok/danger?lang=en", data={"csrf_token": csrf(client, "/manage/tok")}
    )
    assert unticked.status_code == 422
    assert "Tick the box to confirm the warning." in unticked.get_data(as_text=True)
    assert client.get(f"/api/rallies/{rally_id}").get_json()["status"] == "approved"
    response = client.post(
        "/manage/tok/danger", data={"csrf_token": csrf(client, "/manage/tok"), "confirm": "y"}
    )
    assert response.status_code == 303
    sentence = "Danger: police are at the place. Do not come."
    page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert sentence in page
    assert sentence in client.get("/rallies?lang=en").get_data(as_text=True)
    feature = client.get("/api/rallies.geojson").get_json()["features"][0]
    assert feature["properties"]["status"] == "danger"
    assert client.get(f"/api/rallies/{rally_id}").get_json()["status"] == "danger"
    ics = client.get(f"/rallies/{rally_id}.ics?lang=en").get_data(as_text=True)
    summary = re.search(r"^SUMMARY:(.*)$", ics.replace("\r\n ", ""), re.M).group(1)
    assert summary.startswith("Danger: police are at the place. Do not come.")
    assert re.search(r"^SEQUENCE:[1-9]", ics, re.M)
    assert "danger" in client.get("/rallies.csv").get_data(as_text=True)
    # a second press is refused with a clear message, not a 500
    again = client.post(
        "/manage/tok/danger", data={"csrf_token": csrf(client, "/manage/tok"), "confirm": "y"}
    )
    assert again.status_code == 409
