"""Review of session 9 (language): Belarusian names keep Belarusian spelling after hard
consonants; every link of a page in a chosen language keeps it (the moderators' pages lost it);
a moderator is told whom to ask, never a command."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from babel.messages.pofile import read_po
from conftest import add_rally
from test_second_factor import app2fa, enrol  # noqa: F401 (a fixture)

from mapapp.paths import DATA_DIR
from mapapp.places.regions import REGION_NAMES
from mapapp.places.search import Gazetteer

# Belarusian writes ж, ш, ч, р (and дж) hard: never е, ё, і, ю, я or ь after them, but э, о,
# ы, у, а (Мікашэвічы, not the Russian-style «Мікашевічы»; Рэчыца, Чэрвень). ц is not among
# them: Belarusian ц is soft too (Віцебск, Целяханы, Хоцімск).
RUSSIAN_AFTER_HARD = re.compile(r"[жшчр][еёіюяь]", re.IGNORECASE)


def belarusian_names() -> list[tuple[str, str]]:
    """Every Belarusian name the app shows, with where it comes from."""
    names = [(f"places {p.geonameid}", p.name_in("be")) for p in Gazetteer.load().places]
    names += [(f"regions {code}", n["be"]) for code, n in REGION_NAMES.items()]
    squares = json.loads((DATA_DIR / "squares.json").read_text(encoding="utf-8"))["squares"]
    names += [(f"squares {s['key']}", s["name_be"]) for s in squares]
    basemap = json.loads((DATA_DIR / "basemap.json").read_text(encoding="utf-8"))
    for key, items in basemap.items():
        if isinstance(items, list):
            names += [
                (f"basemap {key}", item["names"][0])
                for item in items
                if isinstance(item, dict) and "names" in item
            ]
    seed = json.loads((DATA_DIR / "seed_rallies.json").read_text(encoding="utf-8"))["rallies"]
    for entry in seed:
        be = entry.get("be", entry)
        names += [(f"seed {entry['key']} {field}", be[field]) for field in ("title", "place")]
    return names


def test_belarusian_names_are_hard_after_zh_sh_ch_r():
    names = belarusian_names()
    assert len(names) > 400  # places, regions, squares, the basemap's towns, the seed
    assert ("places 625228", "Мікашэвічы") in names
    assert [(where, n) for where, n in names if RUSSIAN_AFTER_HARD.search(n)] == []


def test_belarusian_catalogue_is_hard_after_zh_sh_ch_r():
    path = "mapapp/translations/be/LC_MESSAGES/messages.po"
    with open(path, "rb") as source:
        catalogue = read_po(source)
    wrong = []
    for message in catalogue:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            if string and RUSSIAN_AFTER_HARD.search(string):
                wrong.append((message.id, string))
    assert wrong == []


def test_the_belarusian_town_list_offers_mikashevichy_in_belarusian(client):
    page = client.get("/submit?lang=be").get_data(as_text=True)
    assert ">Мікашэвічы<" in page or '"Мікашэвічы"' in page
    assert "Мікашевічы" not in page


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def links_of(html: str, base: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    found = []
    for href in parser.links:
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc != "localhost":
            continue  # another site, webcal:, mailto:
        found.append(url)
    return found


def html_links_without_language(client, pages: list[str], lang: str) -> list[tuple[str, str]]:
    """Links on `pages` (each opened with ?lang=) that lead to an HTML page of the site but
    do not carry a language."""
    lost = []
    checked: dict[str, bool] = {}
    for page in pages:
        url = f"http://localhost{page}{'&' if '?' in page else '?'}lang={lang}"
        response = client.get(url)
        assert response.status_code == 200, (page, response.status_code)
        for link in links_of(response.get_data(as_text=True), url):
            parts = urlsplit(link)
            if "lang" in parse_qs(parts.query):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in checked:
                answer = client.get(target)
                checked[target] = answer.status_code == 200 and answer.mimetype == "text/html"
            if checked[target]:
                lost.append((page, target))
    return lost


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_link_of_a_moderators_page_keeps_the_language(app2fa, lang):  # noqa: F811
    rally = add_rally(app2fa, status="pending")
    client, _secret, _codes = enrol(app2fa)
    pages = ["/moderate", "/moderate/log", "/moderate/moderators", "/moderate/account",
             f"/moderate/rallies/{rally}"]  # fmt: skip
    assert html_links_without_language(client, pages, lang) == []


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_link_of_a_public_page_keeps_the_language(app, client, lang):
    rally = add_rally(app)
    pages = ["/", "/rallies", f"/rallies/{rally}", "/submit", "/about", "/embed/code",
             f"/rallies/{rally}/report"]  # fmt: skip
    assert html_links_without_language(client, pages, lang) == []


def test_a_moderator_is_told_whom_to_ask_not_a_command(app2fa):  # noqa: F811
    client, _secret, _codes = enrol(app2fa)
    for lang in ("be", "ru", "en"):
        page = client.get(f"/moderate/account?lang={lang}").get_data(as_text=True)
        text = re.sub(r"<[^>]+>", " ", page)
        assert "second-factor on" in page or "second-factor-on" in page
        assert "flask" not in text and "reset-second-factor" not in text, lang
        asked = {"be": "адміністратараў сайта", "ru": "администраторов сайта",
                 "en": "site's administrators"}[lang]  # fmt: skip
        assert asked in text.replace("&#39;", "'"), lang


# The main rally (seed data): its title and place as the facts file spells them in each
# language; a Russian page showed «Кастрычніцкая плошча, Минск».
MAIN_RALLY = {
    "be": ("Акцыя салідарнасці з палітвязнямі на Кастрычніцкай плошчы", "Кастрычніцкая плошча, Мінск"),
    "ru": ("Акция солидарности с политзаключёнными на Октябрьской площади", "Октябрьская площадь, Минск"),
    "en": ("Rally of solidarity with political prisoners on October Square", "October Square, Minsk"),
}  # fmt: skip


def main_rally(app) -> int:  # noqa: ANN001
    from mapapp.domain import db
    from mapapp.domain.models import Rally

    with app.app_context():
        return db.session().query(Rally).filter_by(seed_key="minsk-october-square").one().id


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_the_main_rally_speaks_the_pages_language(seeded_app, client, lang):
    rally = main_rally(seeded_app)
    title, where = MAIN_RALLY[lang]
    page = client.get(f"/rallies/{rally}?lang={lang}").get_data(as_text=True)
    assert title in page and where in page.replace("</bdi>", "").replace("<bdi>", "")
    listing = client.get(f"/rallies?lang={lang}").get_data(as_text=True)
    assert title in listing
    detail = client.get(f"/api/rallies/{rally}?lang={lang}").get_json()  # the map's popup
    assert (detail["title"], f"{detail['place']}, {detail['town']}") == (title, where)
    if lang != "be":  # nothing of the Belarusian left on a Russian or English page
        assert "Кастрычніцк" not in page and "Кастрычніцк" not in listing
    # The regional rallies too: Гродна's on a Russian page.
    if lang == "ru":
        assert "Гродно: солидарность с политзаключёнными" in listing
        assert "Советская площадь" in listing


def test_an_edited_seed_rally_is_shown_as_written(seeded_app, client):
    from sqlalchemy import text

    from mapapp.domain import db

    rally = main_rally(seeded_app)
    with seeded_app.app_context():  # a moderator's edit, published
        session = db.session(write=True)
        session.execute(
            text("UPDATE published_rally SET title = :t WHERE id = :i"),
            {"t": "Акцыя на Кастрычніцкай: новы час", "i": rally},
        )
        session.commit()
    page = client.get(f"/rallies/{rally}?lang=ru").get_data(as_text=True)
    assert "Акцыя на Кастрычніцкай: новы час" in page  # as written, not replaced
    assert "Октябрьская площадь" in page  # the place is still the seed's own
