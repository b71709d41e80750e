"""Languages (Flask-Babel): Belarusian, Russian, English; times always in Europe/Minsk.

The language comes from ?lang=, then Accept-Language, then Belarusian. No cookie:
links carry ?lang= so a shared link opens in the language it was sent in.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Flask, request, url_for
from flask_babel import Babel, format_datetime, get_locale

LANGUAGES = ("be", "ru", "en")
DEFAULT_LANGUAGE = "be"
MINSK = ZoneInfo("Europe/Minsk")


def select_language() -> str:
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def local_datetime(value: datetime, format: str = "medium") -> str:  # noqa: A002
    """A stored UTC time as Minsk local time, in the page's language."""
    return format_datetime(value, format)


LANGUAGE_NAMES = {"be": "Беларуская", "ru": "Русский", "en": "English"}


def keep_language(endpoint: str, values: dict) -> None:
    """Links between pages keep a language chosen with ?lang= (no cookie needed).

    Links to the feeds keep it too: the rally links inside open in the same language.
    """
    if not endpoint.startswith(("pages.", "feeds.")) or "lang" in values:
        return
    asked = request.args.get("lang") if request else None
    if asked in LANGUAGES:
        values["lang"] = asked


def lang_url(lang: str) -> str:
    """This page in another language: same path and query, another ?lang=."""
    args = request.args.to_dict()
    args["lang"] = lang
    if request.endpoint and request.url_rule is not None:
        return url_for(request.endpoint, **(request.view_args or {}), **args)
    return request.path + "?" + urlencode(args)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Minsk")
    Babel(app, locale_selector=select_language)
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    app.jinja_env.globals["lang_url"] = lang_url
    app.url_defaults(keep_language)
