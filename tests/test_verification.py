"""Graded verification: every public output says how a rally was checked, in words and as
data, from the one public projection (mapapp.publishing.public.PublicRally.verification)."""

from __future__ import annotations

import csv
import io

from conftest import add_rally, make_app
from flask import Flask
from test_moderate import PASSWORD, csrf, log_in

from mapapp.channels.telegram import outbox
from mapapp.domain import db
from mapapp.publishing.public import public_rally

WORDS = {
    "moderators": "Checked by 2 moderators.",
    "moderator": "Checked by one moderator.",
    "imported": "Imported by the site's operators, not checked by a moderator here.",
}


def three_grades(sqlite_url: str) -> tuple[Flask, dict[str, int]]:
    """A rally approved by two moderators over HTTP, one by a single moderator (as with
    MAPAPP_APPROVALS=1, or before two-person approval), and one imported."""
    app = make_app(sqlite_url, APPROVALS=2)
    runner = app.test_cli_runner()
    for name in ("alesia", "barys"):
        result = runner.invoke(
            args=["create-moderator", name], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
        )
        assert result.exit_code == 0, result.output
    two = add_rally(app, title="Праверана двума", status="pending")
    for name in ("alesia", "barys"):
        client = app.test_client()
        assert log_in(client, name=name).status_code == 303
        token = csrf(client, f"/moderate/rallies/{two}")
        client.post(f"/moderate/rallies/{two}/approve", data={"csrf_token": token})
    app.config["APPROVALS"] = 1
    one = add_rally(app, title="Праверана адным", status="pending")
    client = app.test_client()
    assert log_in(client, name="alesia").status_code == 303
    token = csrf(client, f"/moderate/rallies/{one}")
    client.post(f"/moderate/rallies/{one}/approve", data={"csrf_token": token})
    app.config["APPROVALS"] = 2
    imported = add_rally(app, title="Імпартавана")
    return app, {"moderators": two, "moderator": one, "imported": imported}


def test_every_output_says_how_a_rally_was_checked(sqlite_url) -> None:
    app, ids = three_grades(sqlite_url)
    client = app.test_client()
    features = client.get("/api/rallies.geojson").get_json()["features"]
    data = {f["id"]: f["properties"] for f in features}
    english = {
        f["id"]: f["properties"]
        for f in client.get("/api/rallies.geojson?lang=en").get_json()["features"]
    }
    calendar = client.get("/rallies.ics?lang=en").get_data(as_text=True).replace("\r\n ", "")
    table = list(
        csv.DictReader(
            io.StringIO(client.get("/rallies.csv").get_data(as_text=True).lstrip("\ufeff"))
        )
    )
    listing = client.get("/rallies?lang=en").get_data(as_text=True)
    for grade, rally_id in ids.items():
        assert data[rally_id]["verification"] == grade
        assert english[rally_id]["verification_text"] == WORDS[grade]
        detail = client.get(f"/api/rallies/{rally_id}?lang=en").get_json()
        assert detail["verification"] == grade and detail["verification_text"] == WORDS[grade]
        assert detail["checked_by"] == {"moderators": 2, "moderator": 1, "imported": 0}[grade]
        event = client.get(f"/rallies/{rally_id}.ics?lang=en").get_data(as_text=True)
        description = event.replace("\r\n ", "").split("DESCRIPTION:")[1].split("\r\n")[0]
        assert WORDS[grade].replace(",", "\\,") in description
        assert WORDS[grade].replace(",", "\\,") in calendar
        assert [row["verification"] for row in table if row["id"] == str(rally_id)] == [grade]
        page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
        assert f'data-verification="{grade}">{WORDS[grade]}' in page.replace("&#39;", "'")
        assert f'data-verification="{grade}">{WORDS[grade]}' in listing.replace("&#39;", "'")
        with app.app_context(), outbox.in_language("en"):
            post = outbox.message_text(public_rally(db.session(), rally_id), "en")
        assert WORDS[grade].replace("'", "&#x27;") in post
    be = client.get(f"/api/rallies/{ids['moderators']}?lang=be").get_json()
    assert be["verification_text"] == "Праверана 2 мадэратарамі."
    ru = client.get(f"/api/rallies/{ids['moderator']}?lang=ru").get_json()
    assert ru["verification_text"] == "Проверено одним модератором."
    # The offline copy (the static export) carries the same data.
    offline = client.get("/offline.html?lang=en").get_data(as_text=True)
    for grade, rally_id in ids.items():
        assert f'"id":{rally_id},' in offline
        assert f'"verification":"{grade}"' in offline
        assert f'"verification_text":"{WORDS[grade]}"' in offline
        assert f'data-verification="{grade}">{WORDS[grade]}' in offline.replace("&#39;", "'")


def test_the_grades_in_words(app) -> None:
    from types import SimpleNamespace

    from mapapp.publishing.public import verification
    from mapapp.publishing.words import verification_sentence

    known = SimpleNamespace(checked_by=1, organizer_known=True)
    assert verification(known) == "known-organizer"
    assert verification(SimpleNamespace(checked_by=2, organizer_known=True)) == "moderators"
    with app.app_context():
        assert verification_sentence(known, "be") == (
            "Арганізатар вядомы мадэратарам; праверана адным мадэратарам."
        )
        assert verification_sentence(known, "ru") == (
            "Организатор известен модераторам; проверено одним модератором."
        )
