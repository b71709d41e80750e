"""Invisible direction controls in user text cannot reorder the text around it.

New text with them is refused (test_submit, test_import); text stored before that rule
(or from any other way in) is isolated in every output: <bdi> in pages, dir="auto" on
paragraphs, none in plain-text places (<title>, meta tags), and first-strong isolates in
the map's script.
"""

from __future__ import annotations

import re

import pytest
from conftest import add_rally, open_manage
from test_moderate import log_in, moderator  # noqa: F401 - a fixture

from mapapp.domain.lifecycle import hash_token

RLO = "\u202e"
PLACE = f"Плошча{RLO}"
TITLE = f"Пікет{RLO} салідарнасці"


def no_loose_control(page: str) -> None:
    """Every direction control in the page sits in a <bdi>, a dir=auto paragraph or a field."""
    for match in re.finditer(RLO, page):
        before = page[: match.start()]
        if before.rfind("<input") > before.rfind(">") or before.rfind("<textarea") > max(
            before.rfind("</textarea>"), before.rfind("<bdi")
        ):
            continue  # a form field's value: its own paragraph, the text around is not reordered
        opened = max(before.rfind("<bdi"), before.rfind('dir="auto">'))
        closed = max(before.rfind("</bdi>"), before.rfind("</p>"))
        assert opened > closed, page[max(0, match.start() - 200) : match.start() + 50]


@pytest.fixture
def legacy(app):
    """An approved and a pending rally stored with direction controls."""
    approved = add_rally(app, title=TITLE, place=PLACE, town=f"Гродна{RLO}")
    pending = add_rally(
        app,
        title=TITLE,
        place=PLACE,
        status="rejected",
        reject_reason=f"Дубль{RLO}",
        contact=f"@me{RLO}",
        manage_token_hash=hash_token("tok-direction"),
        description=f"Радок{RLO}\nдругі",
    )
    return approved, pending


def test_public_pages_isolate_user_text(client, legacy):
    approved, _ = legacy
    page = client.get(f"/rallies/{approved}?lang=be").get_data(as_text=True)
    assert f"<bdi>{PLACE}</bdi>, <bdi>" in page
    assert f"<bdi>{TITLE}</bdi></h1>" in page and '<h1 data-live="title"><bdi>' in page
    head = page[: page.index("</head>")]
    assert RLO not in head  # <title>, description, og:title, og:description
    assert 'data-title="Пікет салідарнасці"' in page
    no_loose_control(page)
    listing = client.get("/rallies?lang=be").get_data(as_text=True)
    assert f"<bdi>{PLACE}</bdi>, <bdi>" in listing and f"<bdi>{TITLE}</bdi>" in listing
    no_loose_control(listing)


def test_moderator_and_manage_pages_isolate_user_text(client, legacy, moderator):  # noqa: F811
    _, rejected = legacy
    log_in(client)
    page = client.get(f"/moderate/rallies/{rejected}").get_data(as_text=True)
    assert f"<h1><bdi>{TITLE}</bdi></h1>" in page
    assert f"<bdi>Дубль{RLO}</bdi>" in page and f'<bdi class="contact">@me{RLO}</bdi>' in page
    assert f'<p dir="auto">Радок{RLO}</p>' in page
    no_loose_control(page)
    no_loose_control(client.get("/moderate").get_data(as_text=True))
    open_manage(client, "tok-direction")
    manage = client.get("/manage/tok-direction").get_data(as_text=True)
    assert f"<bdi>Дубль{RLO}</bdi>" in manage


def test_the_maps_list_isolates_place_and_town(page, live_server, app):
    town = f"Гродна{RLO}"
    add_rally(app, title=TITLE, place=PLACE, town=town)
    page.goto(live_server + "/?lang=be")
    # a line of the list, once its details are in
    meta = page.locator("#rally-list li[data-filled] .rally-meta").first
    meta.wait_for()
    assert f"<bdi>{PLACE}</bdi>, <bdi>{town}</bdi>" in meta.inner_html()
    # a marker is named by its town and day (the map's feed has no titles): isolated too
    marker = page.locator(".leaflet-marker-icon[title^='\u2068Гродна']").first
    assert marker.get_attribute("title").startswith(f"\u2068{town}\u2069, \u2068")
