"""Town names in each language: Belarusian pages suggest Belarusian names only, Russian pages
Russian ones, each town once, wherever towns are suggested (the organizer's form and the
manage page, the filters of the map, list and moderators' queue, the bot's town buttons)."""

import re
from html.parser import HTMLParser

import pytest

from mapapp.places.search import Gazetteer

# Letters one language has and the other has not.
NOT_BELARUSIAN = re.compile(r"[ищъ]", re.IGNORECASE)
NOT_RUSSIAN = re.compile(r"[іў’']", re.IGNORECASE)
# Names written alike in both languages (read one by one: Орша, Любань, Ружаны ...).
SAME_IN_BOTH = {
    "Барань", "Блонь", "Бобр", "Ветка", "Глуск", "Глуша", "Гомель", "Гоцк", "Добруш", "Друя",
    "Дукора", "Ельск", "Клецк", "Копысь", "Лепель", "Лотва", "Лынтупы", "Любань", "Любча", "Мосар",
    "Новая Гута", "Опса", "Орша", "Пружаны", "Ружаны", "Слуцк", "Солы", "Сураж", "Татарка",
    "Трабы", "Узда", "Усяж", "Хальч", "Шацк",
}  # fmt: skip
# Russian forms the Belarusian pages used to suggest, and their Belarusian names.
WERE_RUSSIAN = {
    "Белоозерск": "Белаазёрск",
    "Красный Берег": "Чырвоны Бераг",
    "Телеханы": "Целяханы",
}

# District centres and larger places whose Russian (or Belarusian) name the picks got wrong:
# Ukrainian forms (Бихав, Масти, Домачеве), half-Belarusian ones (Чачерск, Славгарад), a
# historical name (Каралін for Ельск), a village's old name (Палыкавічы Першыя).
OFFICIAL = {
    629447: ("Быхаў", "Быхов"),
    618815: ("Жыткавічы", "Житковичи"),
    627202: ("Клімавічы", "Климовичи"),
    625367: ("Масты", "Мосты"),
    629395: ("Чавусы", "Чаусы"),
    629390: ("Чачэрск", "Чечерск"),
    619598: ("Ельск", "Ельск"),
    621838: ("Слаўгарад", "Славгород"),
    626621: ("Краснасельскі", "Красносельский"),
    628968: ("Дамачава", "Домачево"),
    816218: ("Палыкавічы", "Полыковичи"),
}


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def test_every_town_has_a_belarusian_and_a_russian_name(gazetteer):
    wrong = []
    for place in gazetteer.places:
        be, ru = place.name_in("be"), place.name_in("ru")
        if NOT_BELARUSIAN.search(be) or NOT_RUSSIAN.search(ru):
            wrong.append((place.geonameid, be, ru))
        elif be == ru and be not in SAME_IN_BOTH:
            wrong.append((place.geonameid, be, ru))  # one language's form in both
    assert wrong == []


def test_district_centres_have_their_official_names(gazetteer):
    names = {p.geonameid: (p.name_in("be"), p.name_in("ru")) for p in gazetteer.places}
    assert {geonameid: names[geonameid] for geonameid in OFFICIAL} == OFFICIAL
    assert {"Бихав", "Масти", "Чачерск", "Каралін"}.isdisjoint(
        gazetteer.town_names("be") + gazetteer.town_names("ru")
    )


def test_no_town_is_suggested_twice_under_another_name(gazetteer):
    # "Горад Крычаў" (GeoNames' town council) beside "Крычаў", 2.5 km apart.
    for lang in ("be", "ru", "en"):
        names = gazetteer.town_names(lang)
        assert len(names) == len(set(names))
        assert not [n for n in names if re.match(r"(Горад|Город|Horad|Gorod) ", n)], lang
    for place in gazetteer.places:
        near = [
            other
            for other in gazetteer.places
            if other is not place
            and abs(other.lat - place.lat) < 0.05
            and abs(other.lon - place.lon) < 0.05
            and place.name_in("be") in other.name_in("be")
        ]
        assert near == [], (place.name_in("be"), [o.name_in("be") for o in near])


class Options(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[str, list[str]] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "datalist":
            self._in = attrs["id"]
            self.lists[self._in] = []
        elif tag == "option" and self._in:
            self.lists[self._in].append(attrs.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "datalist":
            self._in = None


def suggestions(client, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200, url
    parser = Options()
    parser.feed(response.get_data(as_text=True))
    assert parser.lists, url
    return list(parser.lists.values())


@pytest.mark.parametrize("url", ["/submit", "/", "/rallies"])
def test_pages_suggest_towns_in_their_own_language_once(client, gazetteer, url):
    for lang, foreign in (("be", NOT_BELARUSIAN), ("ru", NOT_RUSSIAN)):
        for names in suggestions(client, f"{url}?lang={lang}"):
            assert len(names) == len(set(names)) == len(gazetteer.town_names(lang)), url
            assert [n for n in names if foreign.search(n)] == [], (url, lang)
            assert set(names) == set(gazetteer.town_names(lang))
    be = suggestions(client, f"{url}?lang=be")[0]
    for russian, belarusian in WERE_RUSSIAN.items():
        assert russian not in be and belarusian in be
    assert "Горад Крычаў" not in be and be.count("Крычаў") == 1


def test_the_manage_page_suggests_towns_in_its_own_language(app, client, gazetteer):
    from conftest import add_rally, open_manage

    from mapapp.domain import lifecycle

    add_rally(app, manage_token_hash=lifecycle.hash_token("tok"))
    open_manage(client, "tok")
    for lang, foreign in (("be", NOT_BELARUSIAN), ("ru", NOT_RUSSIAN)):
        (names,) = suggestions(client, f"/manage/tok?lang={lang}")
        assert sorted(names) == sorted(gazetteer.town_names(lang))
        assert [n for n in names if foreign.search(n)] == []
