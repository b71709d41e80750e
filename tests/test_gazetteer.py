"""The pure gazetteer: spellings people type, squares, addresses, reverse lookup."""

import pytest

from mapapp.places.index import distance_km
from mapapp.places.search import Gazetteer
from mapapp.places.spelling import fold, transliterate


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def where(gazetteer, query):
    match = gazetteer.geocode(query)
    assert match is not None, query
    return match


HRODNA = (53.6758, 23.82887)
MAHILIOU = (53.90876, 30.34044)
OCTOBER_SQUARE = (53.9022, 27.5617)


def test_all_belarusian_places_are_loaded(gazetteer):
    assert len(gazetteer.places) == 313  # GeoNames has 314; its second Krychaw is left out
    assert {p.region for p in gazetteer.places} == {
        "BY-BR", "BY-HO", "BY-HR", "BY-HM", "BY-MI", "BY-MA", "BY-VI"
    }  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        "Гродна", "Гродно", "Hrodna", "Grodno", "HRODNA", "гродно", "г. Гродно", "гор. Гродна",
        "горад Гродна", "город Гродно", "Hrodna, Belarus", "Гродна, Беларусь",
        "Гродно, Гродненская область", "Hrodna, Hrodna Region", "Grodno, Grodnenskaya obl.",
        "Grdono", "Hrdona", "Гродо",
    ],
)  # fmt: skip
def test_spellings_of_hrodna(gazetteer, query):
    match = where(gazetteer, query)
    assert match.kind == "town"
    assert match.region == "BY-HR"
    assert distance_km(match.lat, match.lon, *HRODNA) < 1


@pytest.mark.parametrize(
    "query",
    ["Магілёў", "Могилёв", "Могилев", "Mahilioŭ", "Mahiliou", "Mahilyow", "Mogilev", "Mahiliow",
     "Mogiljov", "Mahilou", "МАГIЛЁЎ"],
)  # fmt: skip
def test_spellings_of_mahiliou(gazetteer, query):
    match = where(gazetteer, query)
    assert distance_km(match.lat, match.lon, *MAHILIOU) < 1


def test_latin_letters_inside_cyrillic_words(gazetteer):
    # a Latin i for і and a Latin c and o, as phones and keyboards produce them
    assert where(gazetteer, "Мiнск").place.name == "Minsk"
    assert where(gazetteer, "Bіцебск").place.name == "Viciebsk"
    assert where(gazetteer, "Пoлацк").place.name == "Polatsk"


def test_transliteration_systems():
    assert transliterate("Магілёў", "by-2007") == "mahiliou"
    assert transliterate("Віцебск", "bgn-be") == "vitsyebsk"
    assert transliterate("Гомель", "by-2007") == "homiel"
    assert transliterate("Могилёв", "icao-ru") == "mogilev"
    assert transliterate("Бобруйск", "bgn-ru") == "bobruysk"
    assert fold("Homieĺ") == fold("HOMIEL") == "homiel"


def test_october_square_by_its_names(gazetteer):
    for query in [
        "Кастрычніцкая плошча", "пл. Кастрычніцкая", "Октябрьская площадь", "пл. Октябрьская",
        "October Square", "Kastrychnitskaya", "Oktyabrskaya", "Kastryčnickaja plošča",
        "Октябрьская площадь, Минск", "Minsk, Kastrychnitskaya ploshcha", "на Октябрьской площади",
        "Oktyabrskaya square Minsk", "Мінск Кастрычніцкая",
    ]:  # fmt: skip
        match = where(gazetteer, query)
        assert match.kind == "square", query
        assert distance_km(match.lat, match.lon, *OCTOBER_SQUARE) < 0.1, query


def test_the_named_town_decides_between_squares_of_one_name(gazetteer):
    viciebsk = where(gazetteer, "Плошча Перамогі, Віцебск")
    assert viciebsk.square.key == "viciebsk-victory-square"
    minsk = where(gazetteer, "площадь Победы, Минск")
    assert minsk.square.key == "minsk-victory-square"
    polatsk = where(gazetteer, "Polatsk, Freedom Square")
    assert polatsk.square.key == "polatsk-freedom-square"


def test_square_name_alone_offers_the_other_towns(gazetteer):
    match = where(gazetteer, "площадь Победы")
    assert match.square.key == "minsk-victory-square"  # the larger town wins
    assert [a.square.key for a in match.alternatives] == ["viciebsk-victory-square"]
    assert match.confidence < 1


@pytest.mark.parametrize(
    ("query", "town"),
    [
        ("вул. Савецкая, 12, Гродна", "Hrodna"),
        ("ул. Ленина 5, г. Пинск", "Pinsk"),
        ("Pinsk, vulica Lienina 3", "Pinsk"),
        ("ул Ленина 5 Пинск", "Pinsk"),
        ("Гродна вуліца Савецкая", "Hrodna"),
        ("площадь Ленина, Брест", "Brest"),  # no sourced square in Brest: the town's point
    ],
)
def test_addresses_resolve_to_their_town_marked_approximate(gazetteer, query, town):
    match = where(gazetteer, query)
    assert match.kind == "approximate"
    assert match.place.name == town
    assert match.square is None


def test_a_street_named_like_a_square_elsewhere_does_not_move_the_town(gazetteer):
    # Hrodna has Lenin Square; an address on Lenin street in Pinsk stays in Pinsk
    assert where(gazetteer, "ул. Ленина 5, г. Пинск").place.name == "Pinsk"
    # and Savietskaja street is not Savietskaja square
    assert where(gazetteer, "вул. Савецкая, 12, Гродна").square is None


def test_region_decides_between_towns_of_one_name(gazetteer):
    homiel = where(gazetteer, "Октябрьский, Гомельская область")
    minsk_region = where(gazetteer, "Октябрьский, Минская обл.")
    assert homiel.region == "BY-HO"
    assert minsk_region.region == "BY-MI"
    alone = where(gazetteer, "Октябрьский")
    assert alone.alternatives and alone.confidence < 1


def test_the_larger_town_wins_a_tie(gazetteer):
    match = where(gazetteer, "Октябрьский")
    assert all(match.place.population >= a.place.population for a in match.alternatives)


def test_nothing_found(gazetteer):
    assert gazetteer.geocode("Berlin Alexanderplatz") is None
    assert gazetteer.geocode("") is None
    assert gazetteer.geocode("x" * 400) is None


def test_reverse_gives_town_and_region(gazetteer):
    found = gazetteer.reverse(53.6779, 23.8300)
    assert found.place.name == "Hrodna" and found.region == "BY-HR"
    assert gazetteer.reverse(53.90, 27.56).region == "BY-HM"
    assert gazetteer.reverse(53.95, 28.30).region == "BY-MI"


def test_reverse_rejects_points_outside_belarus(gazetteer):
    assert gazetteer.reverse(52.52, 13.40) is None  # Berlin
    assert gazetteer.reverse(54.687, 25.279) is None  # Vilnius
    assert gazetteer.reverse(50.45, 30.52) is None  # Kyiv
    assert gazetteer.reverse(95, 27) is None


def test_checked_names_of_the_larger_towns(gazetteer):
    molodechno = gazetteer.by_id(625625)
    assert (molodechno.name, molodechno.name_be, molodechno.name_ru) == (
        "Maladzyechna", "Маладзечна", "Молодечно"
    )  # fmt: skip
    assert gazetteer.by_id(618800).name_be == "Жодзіна"  # not "Горад Жодзіна"
    # the older spellings still find the towns
    assert where(gazetteer, "Horad Zhodzina").place.geonameid == 618800
    assert where(gazetteer, "Homyel'").place.name == "Homiel"


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("Ploshcha Lenina Grodno", "hrodna-lenin-square"),
        ("pl. Pobedy Vitebsk", "viciebsk-victory-square"),
        ("Плошча Славы Магілёў", "mahiliou-glory-square"),
        ("пл. Свободы Полоцк", "polatsk-freedom-square"),
        ("Oktiabrskaya ploshchad", "minsk-october-square"),
    ],
)
def test_square_and_town_without_a_comma(gazetteer, query, key):
    match = where(gazetteer, query)
    assert match.kind == "square" and match.square.key == key


def test_a_square_name_many_towns_share_is_ambiguous_without_a_town(gazetteer):
    for query in ("пл. Леніна", "площадь Ленина", "Леніна плошча", "Lenina"):
        match = where(gazetteer, query)
        assert match.kind == "square" and match.square.key == "hrodna-lenin-square", query
        assert match.confidence <= 0.5, query
        towns = {a.place.name_be for a in match.alternatives}
        assert {"Брэст", "Гомель"} <= towns, query
        assert all(a.kind == "approximate" and a.square is None for a in match.alternatives)
    # with its town, the same name is certain
    assert where(gazetteer, "Плошча Леніна, Гродна").confidence == 1.0
    # a square whose name no other town is known to share stays certain
    assert where(gazetteer, "Кастрычніцкая плошча").confidence == 1.0
