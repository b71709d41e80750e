"""Moderators: log in, queue, approve, reject, edit, cancel; every action audited."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, make_app
from sqlalchemy import select

from mapapp.domain import db
from mapapp.domain.models import AuditEntry, Rally, Status

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "correct horse battery"


def csrf(client, url):
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


@pytest.fixture
def moderator(app, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    result = app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    assert result.exit_code == 0, result.output
    return "alesia"


def log_in(client, name="alesia", password=PASSWORD):
    token = csrf(client, "/moderate/login")
    return client.post(
        "/moderate/login", data={"csrf_token": token, "name": name, "password": password}
    )


def status_of(app, rally_id):
    with app.app_context():
        return db.session().get(Rally, rally_id).status


def test_queue_needs_a_login(client):
    response = client.get("/moderate")
    assert response.status_code == 302 and "/moderate/login" in response.headers["Location"]
    assert client.get("/moderate/pending.geojson").status_code == 302


def test_wrong_password_and_unknown_name(client, moderator):
    assert log_in(client, password="wrong password").status_code == 401
    assert log_in(client, name="nobody").status_code == 401
    assert client.get("/moderate").status_code == 302


def test_login_is_rate_limited(sqlite_url, monkeypatch):
    app = make_app(sqlite_url, LOGIN_LIMIT="3 per minute")
    client = app.test_client()
    codes = [log_in(client, password="guess").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_session_cookie_is_httponly_samesite_and_secure_outside_development(sqlite_url):
    app = make_app(sqlite_url, TESTING=False)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    dev = make_app(sqlite_url, TESTING=False, DEVELOPMENT=True)
    assert dev.config["SESSION_COOKIE_SECURE"] is False


def test_queue_oldest_first_with_contact_for_moderators_only(client, app, moderator):
    first = add_rally(app, title="First pending", status="pending", contact="first@example.org")
    second = add_rally(app, title="Second pending", status="pending")
    add_rally(app, title="Imported approved")  # no moderator decided it
    add_rally(app, title="Cancelled by a moderator", status="cancelled")
    assert log_in(client).status_code == 303
    page = client.get("/moderate?lang=en").get_data(as_text=True)
    assert page.index("First pending") < page.index("Second pending")
    recent = page.split("Recently decided")[1]
    assert "Imported approved" not in recent
    assert "Cancelled by a moderator</bdi></a> — cancelled" in recent
    assert "Cancelled by a moderator</bdi></a> — отменена" in client.get(
        "/moderate?lang=ru"
    ).get_data(as_text=True)
    detail = client.get(f"/moderate/rallies/{first}").get_data(as_text=True)
    assert "first@example.org" in detail
    features = client.get("/moderate/pending.geojson").get_json()["features"]
    assert [f["id"] for f in features] == [first, second]
    assert "first@example.org" not in str(features)


def test_approve_reject_cancel_are_audited(client, app, moderator):
    a = add_rally(app, title="To approve", status="pending")
    b = add_rally(app, title="To reject", status="pending")
    c = add_rally(app, title="To cancel")
    log_in(client)
    token = csrf(client, f"/moderate/rallies/{a}")
    assert (
        client.post(f"/moderate/rallies/{a}/approve", data={"csrf_token": token}).status_code == 303
    )
    assert status_of(app, a) == Status.APPROVED.value
    refused = client.post(f"/moderate/rallies/{b}/reject", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 422 and status_of(app, b) == Status.PENDING.value
    client.post(f"/moderate/rallies/{b}/reject", data={"csrf_token": token, "reason": "Spam"})
    assert status_of(app, b) == Status.REJECTED.value
    client.post(f"/moderate/rallies/{c}/cancel", data={"csrf_token": token})
    assert status_of(app, c) == Status.CANCELLED.value
    with app.app_context():
        log = (
            db.session()
            .scalars(select(AuditEntry).where(AuditEntry.actor != "test").order_by(AuditEntry.id))
            .all()
        )
    assert [(e.actor, e.action, e.rally_id) for e in log] == [
        ("moderator:alesia", "approve", a),
        ("moderator:alesia", "reject", b),
        ("moderator:alesia", "cancel", c),
    ]
    assert log[1].detail == "Spam"
    # the public sees the approved and the cancelled one, not the rejected
    ids = {f["id"] for f in client.get("/api/rallies.geojson").get_json()["features"]}
    assert ids == {a, c}


def test_actions_without_csrf_change_nothing(client, app, moderator):
    rally_id = add_rally(app, status="pending")
    log_in(client)
    response = client.post(f"/moderate/rallies/{rally_id}/approve", data={})
    assert response.status_code == 400
    assert status_of(app, rally_id) == Status.PENDING.value


def test_moderator_edit(client, app, moderator):
    rally_id = add_rally(app, title="Old title", status="pending", contact="keep@example.org")
    log_in(client)
    page = client.get(f"/moderate/rallies/{rally_id}").get_data(as_text=True)
    token = CSRF.search(page).group(1)
    from datetime import datetime, timedelta

    day = (datetime.now() + timedelta(days=10)).strftime("%Y-%m-%d")
    response = client.post(
        f"/moderate/rallies/{rally_id}/edit",
        data={
            "csrf_token": token,
            "title": "New title",
            "town": "Мінск",
            "place": "Плошча Свабоды",
            "date": day,
            "time": "18:00",
            "description": "",
            "lat": "53.9036",
            "lon": "27.5561",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        rally = db.session().get(Rally, rally_id)
        assert rally.title == "New title" and rally.contact == "keep@example.org"
        assert rally.status == Status.PENDING.value  # a moderator's edit is not an approval


def test_logout(client, moderator):
    log_in(client)
    token = csrf(client, "/moderate")
    client.post("/moderate/logout", data={"csrf_token": token})
    assert client.get("/moderate").status_code == 302


def test_login_redirect_stays_on_this_site(client, moderator):
    token = csrf(client, "/moderate/login")
    response = client.post(
        "/moderate/login?next=//evil.example/",
        data={"csrf_token": token, "name": "alesia", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/moderate"


def test_moderation_pages_write_the_town_and_the_month_in_the_pages_language(
    client, app, moderator
):
    """Review 24b, finding 10: «Ліда» on a Russian page and «с 9 дек. 2026 г.»."""
    starts = datetime(datetime.now(UTC).year + 1, 12, 9, 15, 0, tzinfo=UTC)
    rally_id = add_rally(
        app,
        title="Пікет у Лідзе",
        town="Ліда",
        geonameid=626081,
        region="BY-HR",
        lat=53.8885,
        lon=25.2846,
        place="Двор",
        starts_at=starts,
        reveal_at=starts - timedelta(hours=2),
        status="pending",
    )
    assert log_in(client).status_code == 303
    queue = client.get("/moderate?lang=ru").get_data(as_text=True)
    detail = client.get(f"/moderate/rallies/{rally_id}?lang=ru").get_data(as_text=True)
    for page in (queue, detail):
        assert "Лида" in page and "Ліда<" not in page and "Ліда," not in page
    assert "с 9 декабря" in detail and "дек." not in detail
    english = client.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Lida" in english and "December" in english
