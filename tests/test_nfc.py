"""Text is compared as people read it: decomposed input (NFD) is normalised to NFC at the edges."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from conftest import add_rally
from sqlalchemy import select
from test_submit import form, submit

from mapapp.domain import db
from mapapp.domain.models import Rally

# 120 letters, six of them ў: 126 code points when decomposed (у + combining breve).
TITLE = "Пікет ў " + "ў" * 5 + "а" * 107
NFD_TITLE = unicodedata.normalize("NFD", TITLE)


def test_the_title_is_counted_and_stored_in_nfc(client, app):
    assert len(TITLE) == 120 and len(NFD_TITLE) == 126
    preview = client.post("/submit?lang=be", data=form(client, title=NFD_TITLE))
    assert preview.status_code == 200, preview.get_data(as_text=True)
    submit(client, title=NFD_TITLE, town=unicodedata.normalize("NFD", "Гродна"))
    with app.app_context():
        rally = db.session().scalars(select(Rally)).one()
    assert rally.title == TITLE and rally.town == "Гродна"


def test_a_town_outside_the_gazetteer_is_found_in_either_form(client, app):
    town = "Вёска Лукаўка"  # not in the gazetteer: compared as written
    rally = add_rally(app, town=town)

    def ids(city: str) -> list[int]:
        url = f"/api/rallies.geojson?city={quote(city)}"
        return [f["id"] for f in client.get(url).get_json()["features"]]

    assert ids(town) == [rally]
    assert ids(unicodedata.normalize("NFD", town)) == [rally]
    page = client.get(f"/rallies?city={quote(unicodedata.normalize('NFD', town))}&lang=be")
    assert f"/rallies/{rally}?" in page.get_data(as_text=True)


def test_the_geocoder_reads_nfc(client):
    query = unicodedata.normalize("NFD", "Магілёў")
    answer = client.get(f"/api/geocode?q={quote(query)}").get_json()
    assert answer["query"] == "Магілёў"
    assert answer["name"]
