"""Belarus's languages and time: Belarusian, Russian, English; Europe/Minsk. Pure: no Flask.

Every layer formats times here, so that a feed, a channel post and a page write a time the same
way. The page's current language is the web layer's business (mapapp.web.i18n): these functions
take the language as an argument.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time

LANGUAGES = ("be", "ru", "en")
DEFAULT_LANGUAGE = "be"
LANGUAGE_NAMES = {"be": "Беларуская", "ru": "Русский", "en": "English"}
MINSK = ZoneInfo("Europe/Minsk")


def local_datetime(value: datetime, format: str, lang: str) -> str:  # noqa: A002
    """A stored UTC time as Minsk local time in `lang` (be, ru or en).

    The date at the given length (short, medium, long, full), then hours and minutes.
    Babel's own long and full date-times add seconds and call the zone "Moscow Standard
    Time"; the pages say once that all times are Minsk time.
    """
    local = value.astimezone(MINSK)
    return (
        _joiner(lang, format)
        .replace("{1}", _date_text(lang, format, local.date()))
        .replace("{0}", _time_text(lang, local.hour, local.minute))
    )


def local_iso(value: datetime) -> str:
    """ISO 8601 with the Minsk offset (`2026-12-13T18:00:00+03:00`): what Minsk reads."""
    return value.astimezone(MINSK).isoformat()


# Where CLDR's pattern is not how a native writes a date: Belarusian "short" is "21.10.27"
# (a two-digit year, unlike Russian's "21.10.2027"), and its "medium" cuts months to forms
# nobody writes ("13 сне 2026 г."): the numeric form as in Russian, and the month in full.
PATTERNS = {
    ("be", "short"): "dd.MM.y",
    ("be", "medium"): "long",
}


# Formatting is cached: the map's data formats thousands of times, and days and times repeat.
@lru_cache(maxsize=4096)
def _date_text(lang: str, format: str, day: date) -> str:  # noqa: A002
    return format_date(day, PATTERNS.get((lang, format), format), locale=lang)


@lru_cache(maxsize=1024)
def _time_text(lang: str, hour: int, minute: int) -> str:
    return format_time(time(hour, minute), "short", locale=lang)


@lru_cache(maxsize=32)
def _joiner(lang: str, format: str) -> str:  # noqa: A002
    # How the language puts a date and a time together, e.g. "{1}, {0}" ('...' is literal text).
    return str(Locale.parse(lang).datetime_formats[format]).replace("'", "")
