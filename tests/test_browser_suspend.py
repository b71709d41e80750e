"""Suspension and revert in Chromium: a seized moderator marks a real rally dangerous (people
stay home); two other moderators, each in their own browser, suspend that account and put
the rally back in one step. The seized browser is logged out at its next request, and the
public rally page no longer says danger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import add_rally, browser_app, tick
from flask import Flask

pytestmark = pytest.mark.browser

PASSWORD = "a long passphrase"
TITLE = "Пікет салідарнасці на плошчы"


@pytest.fixture
def app(sqlite_url: str, monkeypatch) -> Iterator[Flask]:  # noqa: ANN001
    app = browser_app(sqlite_url, APPROVALS=2)
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    for name in ("alesia", "barys", "cypryan"):
        assert app.test_cli_runner().invoke(args=["create-moderator", name]).exit_code == 0
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def moderator_page(browser, live_server: str, name: str):  # noqa: ANN001, ANN201
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(live_server + "/moderate/login?lang=en")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/moderate" in page.url and "login" not in page.url
    return page


def test_two_moderators_suspend_a_third_and_revert_in_the_browser(browser, live_server, app):  # noqa: ANN001
    rally_id = add_rally(app, title=TITLE)
    seized = moderator_page(browser, live_server, "cypryan")
    seized.goto(f"{live_server}/moderate/rallies/{rally_id}?lang=en")
    tick(seized, "#danger-confirm")
    with seized.expect_navigation():
        seized.click("button:has-text('Danger: do not come')")
    public = browser.new_context(locale="en-US").new_page()
    public.goto(f"{live_server}/rallies/{rally_id}?lang=en")
    assert public.locator(".status-danger, [data-status=danger]").count() > 0

    alesia = moderator_page(browser, live_server, "alesia")
    alesia.goto(f"{live_server}/moderate/moderators?lang=en")
    proposal = alesia.locator("#moderator-3")
    proposal.locator("input[name=hours]").fill("6")
    with alesia.expect_navigation():
        proposal.locator("button:has-text('Propose to suspend cypryan')").click()
    assert "Another moderator must confirm it" in alesia.inner_text(".flash")
    seized.goto(f"{live_server}/moderate?lang=en")
    assert "/moderate/login" not in seized.url  # one proposal suspends nobody

    barys = moderator_page(browser, live_server, "barys")
    barys.goto(f"{live_server}/moderate/moderators?lang=en")
    confirm = barys.locator("button:has-text('Confirm: suspend cypryan and revert 6 hours')")
    box = confirm.bounding_box()
    assert box["height"] >= 44  # a phone's target
    with barys.expect_navigation():
        confirm.click()
    assert "cypryan is suspended" in barys.inner_text(".flash")
    assert "put back as they were: 1" in barys.inner_text(".flash")

    # The seized browser's session ended: its next page is the log-in.
    seized.goto(f"{live_server}/moderate/rallies/{rally_id}?lang=en")
    assert "/moderate/login" in seized.url
    public.goto(f"{live_server}/rallies/{rally_id}?lang=en")
    assert public.locator("[data-status=danger]").count() == 0
    assert public.locator("#rally-point").get_attribute("data-status") == "approved"
    barys.goto(f"{live_server}/moderate/log?lang=en")
    log = barys.inner_text("main")
    assert "suspended a moderator" in log and "alesia, barys" in log
