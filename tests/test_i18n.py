"""Belarusian, Russian and English: catalogues complete and current, pages in the right language."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from conftest import add_rally

from mapapp import ROOT
from mapapp.places.locale import LANGUAGES
from mapapp.places.regions import REGION_CODES, REGION_NAMES
from mapapp.web.i18n import TRANSLATIONS

POT = TRANSLATIONS / "messages.pot"


def read_catalogue(path):  # noqa: ANN001, ANN201
    with path.open("rb") as source:
        return read_po(source)


def msgids(catalog) -> set:  # noqa: ANN001
    return {message.id for message in catalog if message.id}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang):
    template = read_catalogue(POT)
    catalog = read_catalogue(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    missing = []
    for wanted in template:
        if not wanted.id:
            continue
        found = catalog.get(wanted.id, wanted.context)
        # A fuzzy entry is a guess by `pybabel update`: it is not compiled, so it counts as missing.
        if found is None or found.fuzzy:
            missing.append(wanted.id)
            continue
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if not all(strings):
            missing.append(wanted.id)
    assert missing == [], f"untranslated in {lang}: {missing}"
    # Placeholders such as %(count)s must survive translation.
    problems = [(message.id, errors) for message, errors in catalog.check()]
    assert problems == []


def test_template_is_up_to_date_with_the_sources(tmp_path):
    fresh = tmp_path / "messages.pot"
    argv = [
        "pybabel",
        "-q",
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        "-k",
        "lazy_gettext",
        "-k",
        "_l",
    ]
    argv += ["-o", str(fresh), str(ROOT)]  # as `make translations` runs it
    CommandLineInterface().run(argv)
    assert msgids(read_catalogue(fresh)) == msgids(read_catalogue(POT)), "run `make translations`"


def test_catalogues_hold_no_leftovers():
    """Every language has the same text as the template (no forgotten language or stale entry)."""
    expected = msgids(read_catalogue(POT))
    for lang in LANGUAGES:
        catalog = read_catalogue(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
        assert msgids(catalog) == expected, lang


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)">', page).group(1)


# The same piece of interface in each language, as the pages must show it.
LIST_OF_RALLIES = {"be": "Спіс акцый", "ru": "Список акций", "en": "List of rallies"}
MAP = {"be": "Мапа акцый", "ru": "Карта акций", "en": "Rally map of Belarus"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_are_in_the_asked_language(client, seeded_app, lang):
    rally_id = client.get("/api/rallies.geojson").get_json()["features"][0]["id"]
    pages = {
        "/": MAP[lang],
        "/rallies": LIST_OF_RALLIES[lang],
        f"/rallies/{rally_id}": LIST_OF_RALLIES[lang],
    }
    for path, text in pages.items():
        page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
        assert html_lang(page) == lang, path
        assert text in page, path
        for other in set(LANGUAGES) - {lang}:
            assert LIST_OF_RALLIES[other] not in page, (path, other)


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("be", "be"),
        ("ru-RU,ru;q=0.9", "ru"),
        ("en-GB,en;q=0.8", "en"),
        ("de-DE,de;q=0.9,fr;q=0.5", "be"),  # none of ours: Belarusian
        ("", "be"),
        ("ru-RU,en;q=0.8", "ru"),  # a region-tagged language counts as the bare one
        ("be-BY,ru;q=0.9,en;q=0.8", "be"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,ru-RU;q=0.7,en;q=0.5", "ru"),  # walked in preference order
        ("en;q=0.5,ru-RU;q=0.9", "ru"),  # by quality, not by position
        ("ru;q=0,en", "en"),  # q=0: not this one
        ("be-tarask", "be"),
        ("RU-ru", "ru"),
    ],
)
def test_accept_language_picks_the_language(client, header, lang):
    page = client.get("/rallies", headers={"Accept-Language": header}).get_data(as_text=True)
    assert html_lang(page) == lang
    assert LIST_OF_RALLIES[lang] in page


def test_lang_parameter_beats_accept_language(client):
    page = client.get("/rallies?lang=en", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert html_lang(page) == "en"
    assert "List of rallies" in page


def test_unknown_lang_parameter_falls_back(client):
    page = client.get("/rallies?lang=xx", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert html_lang(page) == "ru"


def test_links_keep_the_language(client, seeded_app):
    page = client.get("/rallies?lang=ru").get_data(as_text=True)
    tags = [tag for tag in re.findall(r"<a\b[^>]*>", page) if "hreflang=" not in tag]
    links = [re.search(r'href="([^"]*)"', tag).group(1) for tag in tags]
    pages = [link for link in links if link.startswith("/") and not link.startswith("/api/")]
    assert any(link.startswith("/rallies/") for link in pages)
    assert any(link.startswith("/?") for link in pages)
    for link in pages:
        assert "lang=ru" in link, link


MONTH = {"be": "кастрычніка", "ru": "октября", "en": "October"}


def spaced(text: str) -> str:
    """CLDR puts no-break spaces in dates ("2099\u00a0г.", "7:00\u202fPM"): plain ones here."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dates_are_in_the_language_and_minsk_time(client, app, lang):
    # 16:00 UTC on 21 October is 19:00 in Minsk.
    rally_id = add_rally(app, starts_at=datetime(2099, 10, 21, 16, 0, tzinfo=UTC))
    listing = spaced(client.get(f"/rallies?lang={lang}").get_data(as_text=True))
    heading = {"be": "серада, 21 кастрычніка 2099 г.", "ru": "среда, 21 октября 2099 г."}
    assert heading.get(lang, "Wednesday, October 21, 2099") in listing
    page = spaced(client.get(f"/rallies/{rally_id}?lang={lang}").get_data(as_text=True))
    when = {"be": "19:00", "ru": "19:00", "en": "7:00 PM"}[lang]
    assert f"21 {MONTH[lang]} 2099" in page or f"{MONTH[lang]} 21, 2099" in page
    assert f", {when}</time>" in page
    # no seconds, and not Babel's name for the zone
    assert "19:00:00" not in page and "7:00:00" not in page
    assert "Moscow" not in page and "Маскоўскі" not in page and "Москва" not in page


HRODNA = {"be": "Гродна", "ru": "Гродно", "en": "Hrodna"}
# The seed's square in each language (data/seed_rallies.json "texts").
SOVIET_SQUARE = {"be": "Савецкая плошча", "ru": "Советская площадь", "en": "Soviet Square"}
HRODNA_REGION = {"be": "Гродзенская вобласць", "ru": "Гродненская область", "en": "Hrodna Region"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_town_and_region_in_the_language(client, seeded_app, lang):
    features = client.get("/api/rallies.geojson").get_json()["features"]
    hrodna = next(f for f in features if f["properties"]["title"].startswith("Гродна:"))
    page = client.get(f"/rallies/{hrodna['id']}?lang={lang}").get_data(as_text=True)
    # the seed's place in the page's language (an organizer's stays as written)
    assert f"<bdi>{SOVIET_SQUARE[lang]}</bdi>, <bdi>{HRODNA[lang]}</bdi></dd>" in page
    assert HRODNA_REGION[lang] in page
    listing = client.get(f"/rallies?lang={lang}").get_data(as_text=True)
    assert f"<bdi>{SOVIET_SQUARE[lang]}</bdi>, <bdi>{HRODNA[lang]}</bdi>" in listing
    assert HRODNA_REGION[lang] in listing


def test_town_outside_the_gazetteer_stays_as_written(client, app):
    towns = {
        add_rally(app, town="Вёска Ніхто", geonameid=None): "Вёска Ніхто",
        add_rally(app, town="Нейкае мястэчка", geonameid=1): "Нейкае мястэчка",  # no such id
    }
    for rally_id, town in towns.items():
        for lang in LANGUAGES:
            assert town in client.get(f"/rallies/{rally_id}?lang={lang}").get_data(as_text=True)


def test_every_region_is_named_in_every_language():
    assert set(REGION_NAMES) == set(REGION_CODES)
    for names in REGION_NAMES.values():
        assert set(names) == set(LANGUAGES) and all(names.values())


def test_geojson_names_towns_in_the_asked_language(client, seeded_app):
    def hrodna(query: str) -> tuple[dict, str]:
        response = client.get("/api/rallies.geojson" + query)
        assert response.status_code == 200
        features = response.get_json()["features"]
        titles = ("Гродна:", "Гродно:", "Hrodna:")  # the seed's title in the language
        found = next(f for f in features if f["properties"]["title"].startswith(titles))
        return found["properties"], response.headers["ETag"]

    plain, plain_etag = hrodna("")
    assert plain["town"] == "Гродна"  # as stored: the same document for everyone
    assert "starts_text" not in plain
    etags = {plain_etag}
    for lang in LANGUAGES:
        properties, etag = hrodna(f"?lang={lang}")
        assert properties["town"] == HRODNA[lang]
        assert MONTH[lang] in properties["starts_text"]
        assert properties["starts_at"] == plain["starts_at"]
        etags.add(etag)
    assert len(etags) == 4  # the language is part of the cache key
    _, ru_etag = hrodna("?lang=ru&when=all")
    again = client.get("/api/rallies.geojson?lang=ru&when=all", headers={"If-None-Match": ru_etag})
    assert again.status_code == 304


def test_geojson_refuses_an_unknown_language(client):
    response = client.get("/api/rallies.geojson?lang=de")
    assert response.status_code == 400
    assert "lang" in response.get_json()["message"]


def map_config(page: str) -> dict:
    return json.loads(re.search(r"RallyMap\.init\(map_\w+, (\{.*\})\);", page).group(1))


def test_map_shell_is_made_once_per_language(client, app):
    zoom_in = {"ru": "Приблизить", "be": "Наблізіць", "en": "Zoom in"}
    for lang, headers in [("ru", {}), ("be", {}), ("ru", {}), ("en", {"Accept-Language": "en"})]:
        query = "" if headers else f"?lang={lang}"
        config = map_config(client.get("/" + query, headers=headers).get_data(as_text=True))
        assert config["lang"] == lang
        assert config["labels"]["zoomIn"] == zoom_in[lang]
        # the same shell whether the language came from ?lang or Accept-Language
        assert config["rallyUrl"] == "/rallies/"
        assert config["dataUrl"] == "/api/rallies.geojson?fields=map"  # the map's own form
    assert {key[-1] for key in app.extensions["mapapp.map_shells"]} == {"ru", "be", "en"}
    assert len(app.extensions["mapapp.map_shells"]) == 3


def test_pages_chosen_by_accept_language_vary_on_it(client):
    assert "Accept-Language" in client.get("/rallies").headers.get("Vary", "")
    assert "Accept-Language" not in client.get("/rallies?lang=be").headers.get("Vary", "")
    # the map's data does not depend on the header at all
    assert "Accept-Language" not in client.get("/api/rallies.geojson").headers.get("Vary", "")


def test_error_pages_in_the_language(client):
    titles = {"be": "Старонка не знойдзена", "ru": "Страница не найдена", "en": "Page not found"}
    for lang, title in titles.items():
        for path in ("/no-such-page", "/rallies/999999"):
            response = client.get(f"{path}?lang={lang}")
            assert response.status_code == 404
            page = response.get_data(as_text=True)
            assert f"<h1>{title}</h1>" in page and html_lang(page) == lang


def test_bad_filter_message_in_the_page_language_and_english_in_the_api(client):
    page = client.get("/rallies?when=someday&lang=ru").get_data(as_text=True)
    assert "Параметр «when» может быть только одним из: upcoming, past, all" in page
    page = client.get("/rallies?from=2027-10-22&to=2027-10-21&lang=be").get_data(as_text=True)
    assert "«from» не можа быць пазней за «to»" in page
    response = client.get("/api/rallies.geojson?when=someday", headers={"Accept-Language": "ru"})
    assert response.status_code == 400
    assert response.get_json()["message"] == "'when' must be one of: upcoming, past, all"


@pytest.mark.parametrize(
    "query",
    [
        "_method=POST",
        "_external=1",
        "_anchor=x",
        "_scheme=javascript",
        "rally_id=1",
        "filename=x",
        "token=x",
        "endpoint=x",
        "values=1",
    ],
)
def test_query_parameters_named_like_url_for_options_are_plain_query(client, app, query):
    """lang_url copies the query as text: no parameter name changes the link or fails."""
    rally_id = add_rally(app)
    pages = [
        "/",
        "/rallies",
        f"/rallies/{rally_id}",
        "/submit",
        "/embed",
        "/embed/code",
        "/moderate/login",
        "/manage/not-a-token",
        "/rallies/999999",
    ]
    for path in pages:
        response = client.get(f"{path}?{query}&lang=ru")
        assert response.status_code in (200, 404), (path, response.status_code)
        page = response.get_data(as_text=True)
        name, value = query.split("=")
        if path != "/embed":  # the embed has no language links
            # the language links keep the parameter as plain query text
            assert f'href="{path}?lang=be&amp;{name}={value}"' in page, path


def test_every_text_marked_in_a_template_is_in_the_catalogues():
    """Read without babel's extractor, which skips a whole template it cannot parse."""
    marked = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
    found = {
        (m.group(1) or m.group(2), path.name)
        for path in (ROOT / "templates").glob("*.html")
        for m in marked.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(found) > 50
    for lang in LANGUAGES:
        catalogue = read_catalogue(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
        missing = [(text, name) for text, name in found if not (catalogue.get(text) or None)]
        assert not missing, (lang, missing)
        untranslated = [(t, n) for t, n in found if not catalogue.get(t).string]
        assert not untranslated, (lang, untranslated)
