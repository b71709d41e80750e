"""A total limit on rallies waiting for moderators, from the form and the bot together."""

from __future__ import annotations

import re

import pytest
from conftest import add_rally, make_app
from sqlalchemy import func, select
from test_moderate import PASSWORD, log_in
from test_submit import form
from test_telegram import NEXT_YEAR, PERSON, converse, grodna_id

from mapapp.domain import db
from mapapp.domain.models import AuditEntry, Rally, Status


def pending(app) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.count(Rally.id)).where(Rally.status == Status.PENDING.value)
        )


def told(app) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "queue_full")
        )


def confirm(client):  # noqa: ANN201
    preview = client.post("/submit", data=form(client)).get_data(as_text=True)
    data = form(client)
    data["submission"] = re.search(r'name="submission" value="([^"]+)"', preview).group(1)
    for name in ("lat", "lon", "geonameid"):
        data[name] = re.search(rf'name="{name}" value="([^"]*)"', preview).group(1)
    return client.post("/submit", data={**data, "step": "confirm"})


def test_the_form_stops_at_the_limit_and_moderators_are_told(sqlite_url, monkeypatch) -> None:
    app = make_app(sqlite_url, PENDING_LIMIT=3)
    for n in range(2):
        add_rally(app, title=f"Waiting {n}", status=Status.PENDING.value)
    client = app.test_client()
    assert confirm(client).status_code == 303  # the third fits
    refused = confirm(client)
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 3500
    assert "Зараз мадэратараў чакае занадта шмат акцый" in refused.get_data(as_text=True)
    assert confirm(client).status_code == 503
    assert pending(app) == 3
    assert told(app) == 1  # once, not once a refusal
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    moderator = app.test_client()
    assert log_in(moderator).status_code == 303
    page = moderator.get("/moderate?lang=en").get_data(as_text=True)
    assert "The queue is full: 3 rallies are waiting" in page


@pytest.fixture
def tg_settings() -> dict:
    return {"PENDING_LIMIT": 1}


def test_the_bot_stops_at_the_limit_and_keeps_the_answers(tg_app, fake) -> None:
    waiting = add_rally(tg_app, title="Waiting", status=Status.PENDING.value)
    converse(
        fake,
        tg_app,
        "/new",
        "Пікет супраць вайны",
        f"press:town:{grodna_id(tg_app)}",
        "Савецкая плошча",
        f"01.06.{NEXT_YEAR} 18:30",
        "press:reveal:0",
        "press:skip",
    )
    [refused] = converse(fake, tg_app, "press:confirm")
    assert "Too many rallies are waiting" in refused
    assert pending(tg_app) == 1 and told(tg_app) == 1
    with tg_app.app_context():  # a moderator decides
        session = db.session(write=True)
        session.get(Rally, waiting).status = Status.REJECTED.value
        session.commit()
    [done] = converse(fake, tg_app, "press:confirm")  # the answers were kept
    assert "sent to moderators" in done
    assert fake.texts_to(PERSON)
