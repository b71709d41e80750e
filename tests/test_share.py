"""Link previews: og:image drawn by the app, OpenGraph on the main pages, JSON-LD Event."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import add_rally
from PIL import Image

from mapapp.domain.models import Status
from mapapp.publishing import jsonld

PAYLOADS = [
    line for line in (Path(__file__).parent / "xss_payloads.txt").read_text().splitlines() if line
]


def meta(page: str, prop: str) -> str | None:
    found = re.search(rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


def json_ld(page: str) -> dict:
    (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    return json.loads(block)


@pytest.mark.parametrize("path", ["/", "/rallies", "/embed/code", "/about"])
def test_main_pages_carry_opengraph_and_the_apps_own_image(client, seeded_app, path):
    page = client.get(path + "?lang=ru").get_data(as_text=True)
    assert meta(page, "og:title") and meta(page, "og:description")
    assert meta(page, "og:url").startswith("http://localhost" + path)
    image = meta(page, "og:image")
    assert image == "http://localhost/share/map-ru.png"  # this site, not a third party
    response = client.get(image.removeprefix("http://localhost"))
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert Image.open(io.BytesIO(response.data)).size == (1200, 630)
    assert meta(page, "twitter:card") == "summary_large_image"


def test_every_rally_gets_its_own_share_image(client, app):
    rally_id = add_rally(app, title="Сход у Гродне", town="Гродна", lat=53.68, lon=23.83)
    page = client.get(f"/rallies/{rally_id}?lang=be").get_data(as_text=True)
    image = meta(page, "og:image")
    assert image == f"http://localhost/share/rallies/{rally_id}-be.png?v=0"  # its revision
    response = client.get(image.removeprefix("http://localhost"))
    assert response.status_code == 200
    picture = Image.open(io.BytesIO(response.data))
    assert picture.size == (1200, 630)
    # the red dot is drawn where Hrodna is, in the west of the map on the right
    reds = [
        (x, y)
        for x in range(700, 1160, 4)
        for y in range(70, 560, 4)
        if picture.getpixel((x, y)) == (178, 34, 34)
    ]
    assert reds and max(x for x, _ in reds) < 800
    again = client.get(
        image.removeprefix("http://localhost"), headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    pending = add_rally(app, status=Status.PENDING.value)
    assert client.get(f"/share/rallies/{pending}-be.png").status_code == 404
    assert client.get(f"/share/rallies/{rally_id}-xx.png").status_code == 404


def test_rally_page_carries_a_schema_org_event(client, app):
    rally_id = add_rally(
        app,
        title="Сход",
        place="Савецкая плошча",
        town="Гродна",
        lat=53.6778,
        lon=23.8297,
        starts_at=datetime(2031, 6, 1, 16, 0, tzinfo=UTC),
    )
    event = json_ld(client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True))
    assert event["@type"] == "Event" and event["name"] == "Сход"
    assert event["startDate"] == "2031-06-01T19:00+03:00"
    assert event["endDate"] == "2031-06-01T21:00+03:00"
    assert event["eventStatus"] == "https://schema.org/EventScheduled"
    assert event["location"]["name"].startswith("Савецкая плошча, ")
    assert event["location"]["geo"] == {
        "@type": "GeoCoordinates",
        "latitude": 53.6778,
        "longitude": 23.8297,
    }
    assert event["url"] == f"http://localhost/rallies/{rally_id}?lang=en"
    assert event["image"] == [f"http://localhost/share/rallies/{rally_id}-en.png?v=0"]
    cancelled = add_rally(app, status=Status.CANCELLED.value)
    event = json_ld(client.get(f"/rallies/{cancelled}").get_data(as_text=True))
    assert event["eventStatus"] == "https://schema.org/EventCancelled"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_json_ld_keeps_user_text_inside_its_script(client, app, payload):
    rally_id = add_rally(app, title=payload, description=payload, place=payload)
    page = client.get(f"/rallies/{rally_id}").get_data(as_text=True)
    (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert "<" not in block and ">" not in block  # nothing can end the element or open one
    event = json.loads(block)
    assert event["name"] == payload and event["description"] == payload
    assert event["location"]["name"].startswith(payload)


def test_an_unrevealed_place_gives_the_town_and_no_point():
    rally = SimpleNamespace(
        title="Сход",
        description="",
        status="approved",
        starts_at=datetime(2031, 6, 1, 16, 0, tzinfo=UTC),
        ends_at=None,
        lat=53.6778,
        lon=23.8297,
        place=None,
        exact=False,
    )
    event = jsonld.rally_event(rally, "u", "i", town="Hrodna", region="Hrodna Region", place=None)
    assert event["location"]["name"] == "Hrodna" and "geo" not in event["location"]
    assert event["location"]["address"]["addressLocality"] == "Hrodna"
