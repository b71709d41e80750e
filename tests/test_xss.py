"""A corpus of XSS payloads in every field of approved rallies: in Chromium, on every page
and in every popup, none of them runs and each shows as the text it is."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import browser_app, wait_until
from flask import Flask
from sqlalchemy import select

from mapapp.domain import db
from mapapp.domain.models import Rally

pytestmark = pytest.mark.browser

PAYLOADS = [
    line for line in (Path(__file__).parent / "xss_payloads.txt").read_text().splitlines() if line
]
SECRET = "secret-contact@example.org"
INJECTED = (
    "[onerror], [onload], [ontoggle], [onmouseover], iframe[srcdoc], "
    'a[href^="javascript:"], img[src="x"]'
)
# A script that runs and carries user text. The rally page's JSON-LD is a data block (never run)
# that holds the title on purpose; test_share checks nothing in it can close the element.
INJECTED_SCRIPT = (
    "[...document.scripts].some(s => s.type !== 'application/ld+json'"
    " && s.textContent.includes('__xss'))"
)


@pytest.fixture
def app(sqlite_url: str, tmp_path) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    path = tmp_path / "xss.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "title",
                "city",
                "place",
                "starts_at",
                "description",
                "lat",
                "lon",
                "status",
                "contact",
            ]
        )
        for i, payload in enumerate(PAYLOADS):
            # spread over Minsk so each has its own marker
            lat, lon = 53.85 + (i % 6) * 0.02, 27.45 + (i // 6) * 0.04
            writer.writerow(
                [f"T{i} {payload}", f"Мінск {payload}", payload, SOON,
                 f"{payload}\n{payload}", lat, lon, "approved", SECRET]
            )  # fmt: skip
    result = app.test_cli_runner().invoke(args=["import-rallies", str(path)])
    assert result.exit_code == 0, result.output
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


SOON = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT19:00")


def rally_ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session().scalars(select(Rally.id).order_by(Rally.id)))


def assert_clean(page) -> None:  # noqa: ANN001
    assert page.evaluate("window.__xss") is None
    assert page.locator(INJECTED).count() == 0, page.locator(INJECTED).first.evaluate(
        "e => e.outerHTML"
    )
    assert page.evaluate(INJECTED_SCRIPT) is False
    assert SECRET not in page.content()


def test_no_payload_runs_on_the_map_or_in_a_popup(page, live_server, app):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server + "/?when=all&lang=en")
    wait_until(page, f"document.querySelectorAll('#rally-list li').length === {len(PAYLOADS)}")
    buttons = page.locator("#rally-list button.show-on-map")
    for i in range(len(PAYLOADS)):
        buttons.nth(i).click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible")
        text = popup.inner_text()
        assert f"T{i} " in text
        assert PAYLOADS[i] in text.replace("\n", "") or PAYLOADS[i].strip() in text
        assert_clean(page)
        page.keyboard.press("Escape")
        popup.wait_for(state="detached")
    assert dialogs == []


def test_no_payload_runs_on_the_list_and_rally_pages(page, live_server, app):
    page.goto(live_server + "/rallies?when=all&lang=en")
    assert_clean(page)
    body = page.inner_text("main")
    for payload in PAYLOADS:
        assert payload in body
    for rally_id in rally_ids(app):
        page.goto(f"{live_server}/rallies/{rally_id}")
        assert_clean(page)


def test_no_payload_runs_for_moderators(page, live_server, app, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", "a long passphrase")
    app.test_cli_runner().invoke(args=["create-moderator", "mod"])
    page.goto(live_server + "/moderate/login")
    page.fill("#name", "mod")
    page.fill("#password", "a long passphrase")
    page.click("button[type=submit]")
    page.wait_for_url("**/moderate")
    assert_clean(page)
    for rally_id in rally_ids(app)[:6]:
        page.goto(f"{live_server}/moderate/rallies/{rally_id}")
        assert page.evaluate("window.__xss") is None
        assert page.locator(INJECTED).count() == 0
        assert page.evaluate(INJECTED_SCRIPT) is False
        assert SECRET in page.content()  # moderators do see the contact


def test_no_payload_runs_in_the_embedded_map(page, live_server, app):
    page.goto(live_server + "/embed?when=all&list=1&lang=en")
    wait_until(page, f"document.querySelectorAll('#rally-list li').length === {len(PAYLOADS)}")
    assert_clean(page)
    page.locator(".leaflet-marker-icon, .marker-cluster").first.click()
    page.wait_for_timeout(300)
    assert_clean(page)
    assert PAYLOADS[0] in page.inner_text("#rally-list")
