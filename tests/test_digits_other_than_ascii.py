"""Numbers in a query or a form are ASCII digits: "²".isdigit() is True but int("²") raises, and
int() of 5,000 digits raises too; each was a 500 (found by a review of issues 25 and 26)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from test_activitypub import ap_app, get

ODD_NUMBERS = ("²", "9" * 5000, "¹²")


@pytest.mark.parametrize("page", ODD_NUMBERS)
def test_a_list_page_that_is_no_number_is_a_400(client, page):
    answer = client.get("/rallies", query_string={"page": page, "lang": "en"})
    assert answer.status_code == 400
    assert "'page' must be a number from 1 to" in answer.get_data(as_text=True)


@pytest.mark.parametrize("page", ODD_NUMBERS)
def test_an_outbox_page_that_is_no_number_is_a_400(sqlite_url, page):
    app = ap_app(sqlite_url)
    assert get(app.test_client(), f"/ap/actor/outbox?page={page}").status_code == 400


def submit_form(client) -> dict[str, str]:
    html = client.get("/submit?lang=en").get_data(as_text=True)
    return {
        "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)[1],
        "submission": re.search(r'name="submission" value="([^"]+)"', html)[1],
        "title": "Rally with an odd number",
        "town": "Hrodna",
        "place": "",
        "date": (date.today() + timedelta(days=30)).isoformat(),
        "time": "12:00",
        "description": "",
        "reveal": "now",
        "website": "",
    }


@pytest.mark.parametrize("number", ODD_NUMBERS)
def test_a_chosen_town_that_is_no_number_is_ignored(client, number):
    form = submit_form(client) | {"step": "preview", "pick": number}
    answer = client.post("/submit?lang=en", data=form)
    assert answer.status_code == 200 and "Hrodna" in answer.get_data(as_text=True)


@pytest.mark.parametrize("number", ODD_NUMBERS)
def test_a_geonameid_that_is_no_number_is_left_out(client, number):
    form = submit_form(client) | {
        "step": "confirm",
        "lat": "53.6758",
        "lon": "23.82887",
        "geonameid": number,
    }
    answer = client.post("/submit?lang=en", data=form)
    assert answer.status_code == 303 and "/submit/done" in answer.headers["Location"]
