"""Normalising spellings: what people type and what the index holds meet in one folded form.

Case, diacritics, ё/е, і/и, apostrophes, soft signs, hyphens and Latin look-alike letters
inside Cyrillic words are folded away, and every Cyrillic name is also spelled in the Latin
systems people use (the 2007 national system, BGN/PCGN, ICAO 9303 from Russian, and a few
popular forms). The words around place names (town prefixes, street and square words) are
kept here folded. Pure: no Flask.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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


def strip_affixes(words: list[str]) -> list[str]:
    words = list(words)
    while len(words) > 1 and words[0] in TOWN_PREFIXES:
        words.pop(0)
    while len(words) > 1 and (words[-1] in TOWN_SUFFIXES or words[-1] in COUNTRY_WORDS):
        words.pop()
    return words
