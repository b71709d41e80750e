"""The rules a rally's text and time must meet, wherever it comes from.

One set for the web form (`forms.RallyForm`, which the Telegram bot goes through too), the
CSV import (`importer`) and the API: text is normalised to NFC first (so "ў" typed as
"у" + combining breve is one letter, stored and compared as people read it), then checked.
Pure: no Flask. Messages here are English; the form shows its own translated ones.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# How far a rally's start may lie from now. A new (pending) rally is in the future, at most
# a year ahead; an approved one imported for the record may be up to ten years old.
FUTURE_LIMIT = timedelta(days=366)
PAST_LIMIT = timedelta(days=3653)

# Invisible characters that reorder the text around them (Unicode's Bidi_Control): a place
# ending in U+202E shows the town after it backwards.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Format characters (category Cf) a rally's text may keep: the zero-width joiner and
# non-joiner join emoji and letters; the soft hyphen only marks where a word may break.
ALLOWED_FORMAT = frozenset("\u200c\u200d\u00ad")
# Line breaks beyond \r and \n: next line, line and paragraph separators.
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x85\u2028\u2029")


@dataclass(frozen=True)
class TextRule:
    """Length (in characters, after NFC) and shape of one field."""

    min_length: int
    max_length: int
    one_line: bool = True
    required: bool = False


RALLY_TEXT = {
    "title": TextRule(5, 120, required=True),
    "town": TextRule(1, 120, required=True),
    "place": TextRule(0, 200),
    "description": TextRule(0, 2000, one_line=False),
    "contact": TextRule(0, 200),
}

# Problems as keys: each entry point says them in its own words (and languages).
LINE_BREAK = "line_break"
CONTROL = "control"
DIRECTION = "direction"
FORMAT = "format"
PROBLEM_TEXT = {
    LINE_BREAK: "must be on one line",
    CONTROL: "contains control characters",
    DIRECTION: "contains invisible characters that change the direction of text",
    FORMAT: "contains invisible formatting characters",
}


def normalise(value: str | None) -> str | None:
    """NFC, without surrounding white space; None stays None.

    Every piece of text from outside goes through this before it is checked, stored or
    compared: the same letters typed decomposed and composed become the same string.
    """
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value).strip()


def text_problem(value: str, one_line: bool = True) -> str | None:
    """The first problem with the characters of `value` (a key of PROBLEM_TEXT), or None.

    Refused everywhere: control characters (tabs, and line breaks in a description, are
    fine there), direction controls and other invisible format characters. Refused in
    one-line fields: any line break or tab.
    """
    for char in value:
        if char in LINE_BREAKS or char == "\t":
            if one_line:
                return LINE_BREAK
            if char in "\r\n\t":
                continue
            return CONTROL
        if char in BIDI_CONTROLS:
            return DIRECTION
        category = unicodedata.category(char)
        if category == "Cc":
            return CONTROL
        if category == "Cf" and char not in ALLOWED_FORMAT:
            return FORMAT
    return None


def field_problem(name: str, value: str) -> str | None:
    """What is wrong with rally field `name` holding `value` (already normalised), in English.

    None when it passes. Covers emptiness, length and characters (RALLY_TEXT).
    """
    rule = RALLY_TEXT[name]
    if not value:
        return "is empty" if rule.required else None
    if len(value) < rule.min_length:
        return f"is shorter than {rule.min_length} characters"
    if len(value) > rule.max_length:
        return f"is longer than {rule.max_length} characters"
    problem = text_problem(value, rule.one_line)
    return PROBLEM_TEXT[problem] if problem else None


def start_problem(starts_at: datetime, now: datetime, approved: bool = False) -> str | None:
    """What is wrong with a rally's start time (aware), in English; None when it is fine.

    A pending rally starts in the future, within FUTURE_LIMIT. An approved one (imported
    for the record) may also lie in the past, up to PAST_LIMIT. The year is checked first,
    so a mistyped 0001 or 0207 is refused without date arithmetic that overflows.
    """
    if not now.year - 11 <= starts_at.year <= now.year + 2:
        return f"the year {starts_at.year} is not plausible"
    starts_at = starts_at.astimezone(UTC)
    if starts_at > now + FUTURE_LIMIT:
        return "it is more than a year ahead"
    if approved:
        if starts_at < now - PAST_LIMIT:
            return "it is more than ten years ago"
    elif starts_at <= now:
        return "a pending rally must be in the future (only approved ones may be past)"
    return None


# Words that point to a spot rather than a town (be, ru, en): a title or description with one
# of them, for a rally whose place is hidden, may give the place away before its time. Each is
# a regular expression matched at the start of a word, case-insensitively, on text whose
# apostrophes (', ʼ, ‘) are read as the Belarusian ’ (U+2019); stems take every case ending
# («у двары», «каля помніка», «пад’езда», «на прыпынку»). Kept narrow where a word has an
# ordinary meaning too: «вход» only after a preposition («Вход свободный» is no place), a house
# only with its number («дома 5», not «сидеть дома»).
_END = r"(?![\w’])"
_ANY = r"[\w’-]*"
LOCATING_PATTERNS = (
    # Belarusian
    r"каля" + _END,
    r"ля" + _END,
    r"побач з" + _END,
    r"насупраць" + _END,
    r"паблізу" + _END,
    r"вуліц" + _ANY,
    r"вул\.",
    r"завулак" + _ANY,
    r"завулк" + _ANY,
    r"плошч" + _ANY,
    r"пл\.",
    r"праспект" + _ANY,
    r"прасп\.",
    r"пр-т",
    r"помнік" + _ANY,
    r"сквер" + _ANY,
    r"парк(?:|у|а|ам|е)" + _END,
    r"дв[ао]р" + _ANY,
    r"пад’езд" + _ANY,
    r"прыпын" + _ANY,
    r"метро" + _END,
    r"станц" + _ANY,
    r"(?:ля|каля|у|ў|перад|побач з) уваход" + _ANY,
    r"ганак" + _ANY,
    r"ганк" + _ANY,
    r"фантан" + _ANY,
    r"будын" + _ANY,
    r"крам" + _ANY,
    r"рын(?:ак|ку|ка|ок|ке)" + _END,
    r"вакзал" + _ANY,
    r"царкв" + _ANY,
    r"царква" + _END,
    r"касц[её]л" + _ANY,
    r"кінатэатр" + _ANY,
    r"бібліятэк" + _ANY,
    r"гасцініц" + _ANY,
    r"набярэжн" + _ANY,
    r"скрыжаванн" + _ANY,
    r"рог(?:у|а)?" + _END,
    r"(?:сустракаемся|збіраемся|сустрэча)(?= (?:ля|каля|у|ў|на|пад|за|перад|насупраць)"
    + _END
    + ")",
    # Russian
    r"возле" + _END,
    r"около" + _END,
    r"рядом с" + _END,
    r"напротив" + _END,
    r"неподал[её]ку" + _END,
    r"улиц" + _ANY,
    r"ул\.",
    r"переул" + _ANY,
    r"площад" + _ANY,
    r"проспект" + _ANY,
    r"памятник" + _ANY,
    r"под[ъ’]езд" + _ANY,
    r"остановк" + _ANY,
    r"(?:у|ко|возле|около|перед|рядом с) вход" + _ANY,
    r"здани" + _ANY,
    r"фонтан" + _ANY,
    r"магазин" + _ANY,
    r"вокзал" + _ANY,
    r"церкв" + _ANY,
    r"церковь" + _END,
    r"храм" + _ANY,
    r"кинотеатр" + _ANY,
    r"библиотек" + _ANY,
    r"гостиниц" + _ANY,
    r"набережн" + _ANY,
    r"перекр[её]ст" + _ANY,
    r"(?:на|за) углу" + _END,
    r"(?:встречаемся|собираемся|встреча)(?= (?:у|возле|около|на|в|под|за|перед|напротив)"
    + _END
    + ")",
    # Both: a house with its number, shops and centres by their names
    r"(?:дом|дома|доме|дому|д\.|корпус|корп\.)\s*№?\s*\d+",
    r"(?:цум|гум|тц|трц|універсам|универсам|кафэ|кафе|рэстаран|ресторан)" + _ANY,
    r"школ" + _ANY + r"\s*№\s*\d+",
    # English
    r"near(?! future)" + _END,
    r"next to" + _END,
    r"opposite" + _END,
    r"in front of" + _END,
    r"outside the" + _END,
    r"street" + _ANY,
    r"st\.",
    r"square" + _END,
    r"avenue" + _END,
    r"monument" + _ANY,
    r"park" + _END,
    r"entrance" + _ANY,
    r"station" + _ANY,
    r"building" + _ANY,
    r"corner" + _ANY,
    r"bus stop" + _ANY,
    r"(?:meet|gather|meeting)(?= (?:at|by|outside|in front of)" + _END + ")",
)
_LOCATING = re.compile(r"(?<![\w’])(?:" + "|".join(LOCATING_PATTERNS) + ")", re.IGNORECASE)
APOSTROPHES = str.maketrans({"'": "\u2019", "\u02bc": "\u2019", "\u2018": "\u2019"})


def locating_hints(
    description: str | None, place: str | None = None, title: str | None = None
) -> list[str]:
    """The words of the title and description that seem to say where a hidden place is, as
    written there (each once), the place's own text first; empty when none is found."""
    texts = [" ".join(text.split()) for text in (title, description) if text]
    if not texts:
        return []
    found: list[str] = []
    own = " ".join((place or "").split()).translate(APOSTROPHES).casefold()
    for text in texts:
        if len(own) >= 3 and own in text.translate(APOSTROPHES).casefold():
            found.append(" ".join(place.split()))  # type: ignore[union-attr]
            break
    for text in texts:
        # one character for one: the match's span is the same in the original text
        for match in _LOCATING.finditer(text.translate(APOSTROPHES)):
            word = text[match.start() : match.end()].strip(" ,")
            if not any(word.casefold() in seen.casefold() for seen in found):
                found.append(word)
    return found
