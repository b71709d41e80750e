"""Search folds case in every script, on SQLite as on PostgreSQL: «МІНСК» finds «Мінск»,
«ЎСХОД» finds «ўсход», «ГРОДНО» finds «Гродно» (SQLite's own lower() folds ASCII only)."""

import json
import re

import pytest
from conftest import add_rally
from sqlalchemy import text
from test_moderate import PASSWORD, log_in

from mapapp.domain import db
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import Rally

ITEM = re.compile(r'<li class="rally-item queue-item" id="rally-(\d+)"')
# A town no gazetteer knows: the filter can only match the name as stored.
UNKNOWN_TOWN = "Ўсходні Хутар Шчэрб"


@pytest.fixture
def moderated(db_app, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    for name in ("alesia", "Алесь"):
        result = db_app.test_cli_runner().invoke(args=["create-moderator", name])
        assert result.exit_code == 0, result.output
    client = db_app.test_client()
    log_in(client)
    return db_app, client


def queue_ids(client, query: str) -> set[int]:
    page = client.get("/moderate", query_string={"q": query})
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return {int(i) for i in ITEM.findall(page.get_data(as_text=True))}


def test_the_database_lower_folds_cyrillic(db_app):
    with db_app.app_context():
        folded = db.session().scalar(text("SELECT lower('МІНСК ЎСХОД ГРОДНО Ё Ä')"))
        upper = db.session().scalar(text("SELECT upper('мінск ўсход')"))
        nothing = db.session().scalar(text("SELECT lower(NULL)"))
    assert folded == "мінск ўсход гродно ё ä"
    assert upper == "МІНСК ЎСХОД"
    assert nothing is None


def test_the_queue_search_folds_case_in_every_script(moderated):
    app, client = moderated
    minsk = add_rally(app, title="Пікет у МІНСКУ", status="pending")
    east = add_rally(app, title="Сход", place="ўсход сонца, плошча", status="pending")
    hrodna = add_rally(
        app, title="Шэсце", town="Гродно", region="BY-HR", lat=53.68, lon=23.83, status="pending"
    )
    latin = add_rally(app, title="Solidarity PICKET", status="pending")
    assert queue_ids(client, "мінску") == {minsk}
    assert queue_ids(client, "Мінску") == {minsk}
    assert queue_ids(client, "ЎСХОД") == {east}
    assert queue_ids(client, "Ўсход") == {east}
    assert queue_ids(client, "ГРОДНО") == {hrodna}
    assert queue_ids(client, "гродно") == {hrodna}
    assert queue_ids(client, "picket") == {latin}
    # A "ў" typed as "у" and a combining breve is the stored "ў".
    assert queue_ids(client, "у\u0306сход") == {east}
    # LIKE's own characters are still plain text.
    assert queue_ids(client, "%") == set()


def test_the_log_filter_takes_a_moderator_name_in_any_case(moderated):
    app, client = moderated
    page = client.get("/moderate/log", query_string={"moderator": "АЛЕСЬ", "lang": "en"})
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    assert client.get("/moderate/log", query_string={"moderator": "Алеся"}).status_code == 400


def test_the_public_filters_and_the_api_fold_a_town_in_any_case(db_app):
    with db_app.app_context():
        assert gazetteer().by_name(UNKNOWN_TOWN) is None
    unknown = add_rally(db_app, title="Сход на хутары", town=UNKNOWN_TOWN, geonameid=None)
    minsk = add_rally(db_app, title="Пікет у Мінску", town="Мінск", geonameid=None)
    hrodna = add_rally(
        db_app, title="Шэсце ў Гродне", town="Гродно", region="BY-HR", lat=53.68, lon=23.83,
        geonameid=None,
    )  # fmt: skip
    with db_app.app_context():
        for rally_id in (unknown, minsk, hrodna):
            assert db.session().get(Rally, rally_id).geonameid is None
    client = db_app.test_client()
    cases = {
        UNKNOWN_TOWN.upper(): unknown,
        UNKNOWN_TOWN.lower(): unknown,
        "МІНСК": minsk,
        "мінск": minsk,
        "ГРОДНО": hrodna,
        "гродно": hrodna,
    }
    for city, rally_id in cases.items():
        feed = client.get("/api/rallies.geojson", query_string={"city": city, "when": "all"})
        assert feed.status_code == 200, (city, feed.get_data(as_text=True)[:300])
        ids = [feature["id"] for feature in json.loads(feed.get_data())["features"]]
        assert ids == [rally_id], city
        listed = client.get("/rallies", query_string={"city": city, "when": "all", "lang": "en"})
        assert listed.status_code == 200
        body = listed.get_data(as_text=True)
        titles = {1: "Сход на хутары", 2: "Пікет у Мінску", 3: "Шэсце ў Гродне"}
        expected = titles[[unknown, minsk, hrodna].index(rally_id) + 1]
        assert expected in body, city
        assert sum(title in body for title in titles.values()) == 1, city
