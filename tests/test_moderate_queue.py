"""The moderators' queue at scale: pages, filters, search, several at once, the view kept,
the rally named in every confirmation, every form error shown; the audit log page."""

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import add_rally
from sqlalchemy import select
from test_moderate import CSRF, PASSWORD, log_in, status_of

from mapapp.domain import db, lifecycle
from mapapp.domain.models import AuditEntry, Rally, Status

ITEM = re.compile(r'<li class="rally-item queue-item" id="rally-(\d+)"')


@pytest.fixture
def moderator(app, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    return "alesia"


def pending(app, count, **fields):
    return [
        add_rally(app, title=f"Waiting {i:03d}", status="pending", **fields) for i in range(count)
    ]


def shown(client, url):
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return [int(i) for i in ITEM.findall(page.get_data(as_text=True))]


def token(client, url="/moderate"):
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def test_the_queue_is_paged_oldest_first(client, app, moderator):
    ids = pending(app, 60)
    log_in(client)
    assert shown(client, "/moderate") == ids[:25]
    assert shown(client, "/moderate?page=3") == ids[50:]
    page = client.get("/moderate?lang=en").get_data(as_text=True)
    assert "Waiting for a decision (60)" in page and "Page 1 of 3" in page
    assert client.get("/moderate?page=4").status_code == 400


def test_filters_and_search(client, app, moderator):
    minsk = add_rally(app, title="Пікет у Мінску", status="pending")
    homel = add_rally(
        app, title="Пікет у Гомелі", status="pending", town="Гомель", region="BY-HO",
        lat=52.4345, lon=30.9754, place="Плошча Леніна",
    )  # fmt: skip
    later = add_rally(
        app, title="Later", status="pending", starts_at=datetime(2099, 3, 1, 12, tzinfo=UTC)
    )
    public = add_rally(app, title="Public with changes")
    with app.app_context():
        session = db.session(write=True)
        lifecycle.edit(session, session.get(Rally, public), {"title": "Changed title"}, "organizer")
    log_in(client)
    assert shown(client, "/moderate?region=BY-HO") == [homel]
    assert shown(client, "/moderate?city=Гомель") == [homel]
    assert shown(client, "/moderate?from=2099-03-01&to=2099-03-01") == [later]
    assert shown(client, "/moderate?state=new") == [minsk, homel, later]
    assert shown(client, "/moderate?state=changes") == [public]
    assert shown(client, "/moderate?q=Леніна") == [homel]  # the place
    assert shown(client, "/moderate?q=changed") == [public]
    assert shown(client, f"/moderate?q=%23{later}") == [later]  # its number
    assert shown(client, "/moderate?q=50%25") == []  # a LIKE wildcard is a plain character
    assert client.get("/moderate?state=odd").status_code == 400


def test_approve_keeps_the_view_and_names_the_rally(client, app, moderator):
    ids = pending(app, 30)
    log_in(client)
    back = "region=BY-HM&page=2&lang=en"
    response = client.post(
        f"/moderate/rallies/{ids[26]}/approve?lang=en",
        data={"csrf_token": token(client), "back": back},
    )
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert parse_qs(target.query) == {"region": ["BY-HM"], "page": ["2"], "lang": ["en"]}
    assert target.fragment == f"rally-{ids[27]}"  # the one that followed it
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Approved: \u201cWaiting 026\u201d is on the map." in page
    assert status_of(app, ids[26]) == Status.APPROVED.value


def test_a_confirmation_quotes_the_title_as_its_language_does(client, app, moderator):
    ids = pending(app, 2)
    log_in(client)
    for rally_id, lang, said in (
        (ids[0], "be", "Зацверджана: «Waiting 000» на мапе."),
        (ids[1], "ru", "«Waiting 001»"),
    ):
        response = client.post(
            f"/moderate/rallies/{rally_id}/approve?lang={lang}",
            data={"csrf_token": token(client), "back": f"lang={lang}"},
        )
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert said in page and "\u201c" not in page


def test_the_last_of_a_page_leads_to_the_page_it_is_now_on(client, app, moderator):
    ids = pending(app, 26)
    log_in(client)
    client.post(
        f"/moderate/rallies/{ids[25]}/approve", data={"csrf_token": token(client), "back": "page=2"}
    )
    # now 25 wait: the view goes to page 1, at the last one (the page 2 is gone)
    response = client.post(
        f"/moderate/rallies/{ids[24]}/approve", data={"csrf_token": token(client), "back": "page=1"}
    )
    target = urlsplit(response.headers["Location"])
    assert parse_qs(target.query) == {} and target.fragment == f"rally-{ids[23]}"


def test_bulk_approve_and_reject_with_one_reason(client, app, moderator):
    ids = pending(app, 8)
    log_in(client)
    csrf = token(client)
    response = client.post(
        "/moderate/bulk?lang=en",
        data={"csrf_token": csrf, "ids": ids[1:4], "decision": "approve", "back": "lang=en"},
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).fragment == f"rally-{ids[4]}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        "Approved 3: \u201cWaiting 001\u201d; \u201cWaiting 002\u201d; \u201cWaiting 003\u201d."
        in page
    )
    client.post(
        "/moderate/bulk",
        data={"csrf_token": csrf, "ids": [ids[5], ids[6]], "decision": "reject", "reason": "Spam"},
    )
    assert [status_of(app, i) for i in ids] == [
        "pending", "approved", "approved", "approved", "pending", "rejected", "rejected", "pending"
    ]  # fmt: skip
    with app.app_context():
        entries = db.session().scalars(
            select(AuditEntry).where(AuditEntry.actor == "moderator:alesia").order_by(AuditEntry.id)
        )
        assert [(e.action, e.rally_id, e.detail) for e in entries] == [
            ("approve", ids[1], ""),
            ("approve", ids[2], ""),
            ("approve", ids[3], ""),
            ("reject", ids[5], "Spam"),
            ("reject", ids[6], "Spam"),
        ]


def test_bulk_errors_are_shown_and_the_selection_kept(client, app, moderator):
    ids = pending(app, 3)
    log_in(client)
    csrf = token(client)
    response = client.post(
        "/moderate/bulk?lang=en",
        data={"csrf_token": csrf, "ids": [ids[0], ids[2]], "decision": "reject", "reason": ""},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="reason-error">Say why, for the record.' in page
    assert f'value="{ids[0]}" id="pick-{ids[0]}" class="queue-pick" checked' in page
    assert f'value="{ids[1]}" id="pick-{ids[1]}" class="queue-pick">' in page
    none = client.post(
        "/moderate/bulk?lang=en", data={"csrf_token": csrf, "decision": "approve"}
    ).get_data(as_text=True)
    assert "Select at least one rally." in none
    assert [status_of(app, i) for i in ids] == ["pending"] * 3


def test_a_refused_one_is_named_and_the_rest_done(client, app, moderator):
    waiting = add_rally(app, title="Still waiting", status="pending")
    public = add_rally(app, title="Already public")
    log_in(client)
    response = client.post(
        "/moderate/bulk?lang=en",
        data={"csrf_token": token(client), "ids": [public, waiting], "decision": "approve"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Approved 1: \u201cStill waiting\u201d." in page
    assert "Not changed: \u201cAlready public\u201d: This cannot be done now" in page


def test_reject_with_empty_reason_shows_the_error(client, app, moderator):
    rally_id = add_rally(app, title="Waiting", status="pending")
    log_in(client)
    csrf = token(client, f"/moderate/rallies/{rally_id}")
    response = client.post(
        f"/moderate/rallies/{rally_id}/reject?lang=en", data={"csrf_token": csrf, "reason": "  "}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="reason-error">Say why, for the record.' in page
    assert 'aria-invalid="true"' in page and "Please correct the form" in page
    ok = client.post(
        f"/moderate/rallies/{rally_id}/reject?lang=en",
        data={"csrf_token": csrf, "reason": "Spam", "back": "lang=en"},
        follow_redirects=True,
    )
    assert "Rejected: \u201cWaiting\u201d." in ok.get_data(as_text=True)


def test_status_actions_name_the_rally(client, app, moderator):
    rally_id = add_rally(app, title="On the map")
    log_in(client)
    csrf = token(client, f"/moderate/rallies/{rally_id}")
    page = client.post(
        f"/moderate/rallies/{rally_id}/status/danger?lang=en",
        data={"csrf_token": csrf, "confirm": "y"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Danger is shown for \u201cOn the map\u201d" in page


def test_the_item_page_has_a_map_with_the_pin(client, app, moderator):
    rally_id = add_rally(app, title="Waiting", status="pending", lat=52.4345, lon=30.9754)
    log_in(client)
    response = client.get(f"/moderate/rallies/{rally_id}?back=page%3D2")
    page = response.get_data(as_text=True)
    assert '"mode": "single"' in page and "RallyMap.init" in page
    assert 'id="rally-point" hidden data-lat="52.4345" data-lon="30.9754"' in page
    # the rally is not public: the map has no public record to re-read
    assert 'data-id="' not in page.split('id="rally-point"')[1].split(">")[0]
    assert 'href="/moderate?page=2">' in page  # back to the same view
    assert 'name="back" value="page=2"' in page
    # the page's scripts are allowed by hash: the map's inline script runs under the CSP
    assert "sha256-" in response.headers["Content-Security-Policy"]


def test_the_audit_log_is_translated_filtered_and_paged(client, app, moderator, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app.test_cli_runner().invoke(args=["create-moderator", "bazyl"])
    ids = pending(app, 55)
    with app.app_context():
        session = db.session(write=True)
        for rally_id in ids:
            lifecycle.approve(session, session.get(Rally, rally_id), "moderator:alesia")
        lifecycle.perform(session, session.get(Rally, ids[0]), "moderator:bazyl", "move")
    log_in(client)
    page = client.get("/moderate/log?lang=be").get_data(as_text=True)
    assert "approve" not in page.split("<tbody>")[1]  # no codes, the page's language
    assert "мадэратар alesia" in page
    be = client.get("/moderate/log?lang=en&moderator=bazyl").get_data(as_text=True)
    assert "1 entry" in be and "moderator bazyl" in be and "marked as moved" in be
    approvals = client.get("/moderate/log?lang=en&action=approve").get_data(as_text=True)
    assert "55 entries" in approvals and "Page 1 of 2" in approvals
    assert approvals.count("<tr>") == 50 + 1
    second = client.get("/moderate/log?lang=en&action=approve&page=2").get_data(as_text=True)
    assert second.count("<tr>") == 5 + 1
    assert "0 entries" in client.get(
        "/moderate/log?lang=en&from=2000-01-01&to=2000-01-02"
    ).get_data(as_text=True)
    assert client.get("/moderate/log?moderator=nobody").status_code == 400
    assert client.get("/moderate/log?action=drop_table").status_code == 400
    ru = client.get(f"/moderate/rallies/{ids[0]}?lang=ru").get_data(as_text=True)
    history = ru.split("<h2>История</h2>")[1]
    assert "moderator:" not in history and "approve" not in history


def test_the_log_needs_a_login(client):
    assert client.get("/moderate/log").status_code == 302
