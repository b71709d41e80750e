"""The moderators' queue and audit log share one paging rule (views/moderate.py: Paging), and a
page, a rally number or a search made of digits other than ASCII ones is a 400 or plain text,
never a 500 (int("²") raises although "²".isdigit())."""

import re

import pytest
from conftest import add_rally, fresh_postgres, make_app
from test_moderate import PASSWORD, log_in

ITEM = re.compile(r'<li class="rally-item queue-item" id="rally-(\d+)"')


def moderator_client(app, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    client = app.test_client()
    log_in(client)
    return client


def test_the_queue_and_the_log_page_alike_and_refuse_odd_pages(app, monkeypatch):
    client = moderator_client(app, monkeypatch)
    ids = [add_rally(app, title=f"Waiting {i:03d}", status="pending") for i in range(30)]
    second = client.get("/moderate?page=2&lang=en").get_data(as_text=True)
    assert [int(i) for i in ITEM.findall(second)] == ids[25:]
    assert "Page 2 of 2" in second
    log = client.get("/moderate/log?lang=en")
    assert log.status_code == 200
    for url in ("/moderate", "/moderate/log"):
        for page in ("²", "٣", "0", "3", "9" * 5000, "-1", "1.0"):
            answer = client.get(url, query_string={"page": page, "lang": "en"})
            assert answer.status_code == 400, (url, page)
            assert "must be a number from 1 to" in answer.get_data(as_text=True)


def test_digits_other_than_ascii_are_text_in_a_search_and_a_400_as_a_rally(app, monkeypatch):
    client = moderator_client(app, monkeypatch)
    add_rally(app, title="Пікет №²", status="pending")
    found = client.get("/moderate", query_string={"q": "²"})
    assert found.status_code == 200 and len(ITEM.findall(found.get_data(as_text=True))) == 1
    assert client.get("/moderate", query_string={"q": "#²"}).status_code == 200
    assert client.get("/moderate/log", query_string={"rally": "²"}).status_code == 400


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_rally_numbers_past_the_databases_integer_are_refused(sqlite_url, monkeypatch, database):
    """SQLite raised OverflowError and PostgreSQL "integer out of range" for these: 500s."""
    app = make_app(sqlite_url if database == "sqlite" else fresh_postgres())
    client = moderator_client(app, monkeypatch)
    rally = add_rally(app, title="Waiting", status="pending")
    big = "9" * 20
    assert client.get(f"/moderate/rallies/{big}?lang=en").status_code == 404
    assert client.get(f"/moderate/rallies/{2**31}?lang=en").status_code == 404
    assert client.get(f"/moderate/log?rally={2**31}&lang=en").status_code == 400
    html = client.get("/moderate?lang=en").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)[1]
    for ids in ([big], [str(rally), str(2**31)]):
        answer = client.post(
            "/moderate/bulk?lang=en",
            data={"csrf_token": token, "ids": ids, "decision": "approve"},
        )
        assert answer.status_code == 422
        assert "Select at least one rally." in answer.get_data(as_text=True)
