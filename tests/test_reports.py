"""Visitors' reports over HTTP: a plain form with a CSRF token on each rally page's own
report page, fixed reasons and a short text, shown to moderators beside the rally and
counted, marked handled; nothing about the visitor is stored (every table and the logs are
read) and the rate limit keeps only keyed hashes."""

from __future__ import annotations

import logging
import re

from conftest import add_rally, make_app
from sqlalchemy import inspect, text
from test_moderate import PASSWORD, csrf, log_in

from mapapp.domain import db

ADDRESS = "203.0.113.77"
AGENT = "VisitorsOwnBrowser/9.9 (unique-agent-string)"


def send(client, rally_id: int, **data):  # noqa: ANN001, ANN003, ANN201
    token = csrf(client, f"/rallies/{rally_id}/report")
    return client.post(f"/rallies/{rally_id}/report", data={"csrf_token": token, **data})


def test_a_report_reaches_moderators_beside_the_rally_counted_and_escaped(app) -> None:
    rally_id = add_rally(app, title="Пікет на плошчы")
    page = app.test_client().get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert f'href="/rallies/{rally_id}/report?lang=en"' in page  # the page's language kept
    visitor = app.test_client()
    form = visitor.get(f"/rallies/{rally_id}/report?lang=en").get_data(as_text=True)
    for reason in ("Wrong place", "Looks like a provocation", "Already dispersed", "Other"):
        assert reason in form
    assert 'name="csrf_token"' in form and "<script" not in form.split("</header>")[-1]
    assert send(visitor, rally_id, reason="provocation", text="<img src=x onerror=alert(1)>").status_code == 200  # fmt: skip
    assert send(visitor, rally_id, reason="provocation").status_code == 200
    assert send(visitor, rally_id, reason="dispersed").status_code == 200
    app.test_cli_runner().invoke(
        args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
    )
    moderator = app.test_client()
    log_in(moderator)
    queue = moderator.get("/moderate?lang=en").get_data(as_text=True)
    assert "Reported by visitors" in queue and "3 reports" in queue
    item = moderator.get(f"/moderate/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "Looks like a provocation: 2" in item and "Already dispersed: 1" in item
    assert "&lt;img src=x onerror=alert(1)&gt;" in item and "<img src=x" not in item
    token = csrf(moderator, f"/moderate/rallies/{rally_id}")
    handled = moderator.post(
        f"/moderate/rallies/{rally_id}/reports/handled", data={"csrf_token": token}
    )
    assert handled.status_code == 303
    assert "Reported by visitors" not in moderator.get("/moderate?lang=en").get_data(as_text=True)
    log = moderator.get("/moderate/log?lang=en").get_data(as_text=True)
    assert (
        "visitors&#39; reports marked handled" in log or "visitors' reports marked handled" in log
    )


def test_bad_reports_get_a_clear_4xx(app) -> None:
    rally_id = add_rally(app)
    client = app.test_client()
    assert send(client, rally_id, reason="not-a-reason").status_code == 422
    assert send(client, rally_id).status_code == 422
    assert send(client, rally_id, reason="other", text="x" * 281).status_code == 422
    assert send(client, rally_id, reason="other", text="a\u202eb").status_code == 422
    no_token = client.post(f"/rallies/{rally_id}/report", data={"reason": "other"})
    assert no_token.status_code == 400
    hidden = add_rally(app, status="pending")
    assert client.get(f"/rallies/{hidden}/report").status_code == 404
    assert client.get("/rallies/999999/report").status_code == 404


class Kept(logging.Handler):
    """Every log record's text, from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_a_report_stores_nothing_about_the_visitor(sqlite_url, capsys) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, REPORT_LIMIT="2 per hour")
    kept = Kept()
    root = logging.getLogger()
    root.addHandler(kept)
    level = root.level
    root.setLevel(logging.DEBUG)
    rally_id = add_rally(app)
    visitor = app.test_client()
    visitor.environ_base.update({"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": AGENT})
    assert send(visitor, rally_id, reason="wrong_place", text="Тут нікога няма").status_code == 200
    assert send(visitor, rally_id, reason="other").status_code == 200
    assert send(visitor, rally_id, reason="other").status_code == 429  # the limit counts
    with app.app_context():
        connection = db.session().connection()
        dump = []
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                dump.append(" ".join(str(value) for value in row))
        reports = connection.execute(text("SELECT * FROM visitor_report")).all()
    root.removeHandler(kept)
    root.setLevel(level)
    logged = "\n".join(kept.lines) + "".join(capsys.readouterr())
    assert "report" in logged or kept.lines is not None
    everything = "\n".join(dump)
    assert len(reports) == 2
    assert "Тут нікога няма" in everything  # the dump does read the report's own row
    for secret in (ADDRESS, AGENT, "unique-agent-string", "203.0.113"):
        assert secret not in everything
        assert secret not in logged
    # The rate limit's counters are named by keyed hashes only.
    assert re.search(r"[0-9a-f]{64}", everything)
    # The report's time is kept to the hour: no log line can be matched with it.
    assert all(str(row.at).endswith(":00:00") or ":00:00" in str(row.at) for row in reports)


def test_a_report_past_the_limit_keeps_the_text_and_says_the_real_wait(sqlite_url) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, REPORT_LIMIT="1 per hour")
    rally_id = add_rally(app)
    visitor = app.test_client()
    assert send(visitor, rally_id, reason="other").status_code == 200
    refused = send(visitor, rally_id, reason="other", text="Тут стаіць міліцыя")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "Тут стаіць міліцыя" in page
    assert 'id="too-many"' in page and "wait a minute" not in page
    assert "60 minutes" in page or "60 хвілін" in page


def test_a_flood_of_reports_stops_at_the_waiting_limits_and_keeps_the_text(sqlite_url) -> None:  # noqa: ANN001
    """Many addresses, each under REPORT_LIMIT, cannot fill the database: 100 reports wait on
    one rally at most, REPORTS_WAITING_LIMIT on all (past which a rally with fewer than 10
    waiting still takes them: a flood cannot silence the others); past them the form comes
    back with what was typed, a clear message and a 503; moderators are told; handled reports
    free the room."""
    from mapapp.domain.reports import RALLY_ALWAYS_TAKES, RALLY_WAITING_LIMIT

    app = make_app(sqlite_url, REPORT_LIMIT="1000 per hour", REPORTS_WAITING_LIMIT=150)
    first, second, third = (add_rally(app, title=f"Акцыя {n}") for n in range(3))
    for n in range(RALLY_WAITING_LIMIT):
        client = app.test_client()  # many addresses, one report each
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        assert send(client, first, reason="other").status_code == 200
    visitor = app.test_client()
    refused = send(visitor, first, reason="other", text="Тут стаіць міліцыя")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "3600"
    assert "Тут стаіць міліцыя" in page and 'id="too-many"' in page
    assert "шмат скаргаў на гэтую акцыю" in page
    for _ in range(50):  # another rally, up to the limit of all
        assert send(visitor, second, reason="dispersed").status_code == 200
    # Past the limit of all: a rally with few reports still takes them, up to 10...
    for n in range(RALLY_ALWAYS_TAKES):
        assert send(visitor, third, reason="dispersed", text=f"Разагналі {n}").status_code == 200
    # ...then no more, the typed text kept.
    refused = send(visitor, third, reason="other", text="Яшчэ адно")
    assert refused.status_code == 503 and "Яшчэ адно" in refused.get_data(as_text=True)
    assert "занадта шмат неразгледжаных скаргаў" in refused.get_data(as_text=True)
    with app.app_context():
        count = db.session().execute(text("SELECT count(*) FROM visitor_report")).scalar()
    assert count == 150 + RALLY_ALWAYS_TAKES
    # The moderators are told that reports are being refused; marking some handled: room again.
    moderator = app.test_client()
    app.test_cli_runner().invoke(
        args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
    )
    log_in(moderator, name="alesia")
    assert 'id="reports-full"' in moderator.get("/moderate?lang=en").get_data(as_text=True)
    token = csrf(moderator, f"/moderate/rallies/{first}")
    moderator.post(f"/moderate/rallies/{first}/reports/handled", data={"csrf_token": token})
    assert 'id="reports-full"' not in moderator.get("/moderate?lang=en").get_data(as_text=True)
    assert send(visitor, third, reason="other", text="Яшчэ адно").status_code == 200


def test_an_ipv6_client_is_counted_by_its_64_network(sqlite_url) -> None:  # noqa: ANN001
    """One subscriber's /64 holds more addresses than any limit: counted as one client, or a
    new address a request would step past every limit (review of session 8)."""
    app = make_app(sqlite_url, REPORT_LIMIT="1 per hour")
    rally_id = add_rally(app)

    def from_address(address: str) -> int:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return send(client, rally_id, reason="other").status_code

    assert from_address("2001:db8:1:2::1") == 200
    assert from_address("2001:db8:1:2:ffff::7") == 429  # the same /64
    assert from_address("2001:db8:1:3::1") == 200  # another one
    assert from_address("203.0.113.9") == 200 and from_address("203.0.113.10") == 200
