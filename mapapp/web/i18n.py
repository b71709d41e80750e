"""Languages (Flask-Babel): Belarusian, Russian, English; times always in Europe/Minsk.

The language comes from ?lang=, then Accept-Language, then Belarusian. No cookie:
links carry ?lang= so a shared link opens in the language it was sent in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request, url_for
from flask_babel import Babel, get_locale, ngettext
from markupsafe import Markup

from mapapp.domain import names
from mapapp.domain.names import HasTown
from mapapp.domain.rules import BIDI_CONTROLS
from mapapp.paths import PACKAGE_DIR
from mapapp.places import locale
from mapapp.places.locale import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES
from mapapp.places.regions import REGION_CODES, REGION_NAMES
from mapapp.publishing import words

TRANSLATIONS = PACKAGE_DIR / "translations"


def select_language() -> str:
    """?lang= if it is one of ours, else the first of ours the browser accepts, else be."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return preferred_language(request.accept_languages) or DEFAULT_LANGUAGE


def preferred_language(accepted: Iterable[tuple[str, float]]) -> str | None:
    """The first of LANGUAGES in an Accept-Language header, in the header's preference.

    `accepted` is (tag, quality) pairs, best first (werkzeug's parsed header is). A tag
    with a region or script counts as its bare language ("ru-RU" is Russian, "be-tarask"
    Belarusian); q=0 means "not this one"; "*" means any, so our default.
    """
    for tag, quality in accepted:
        if quality <= 0:
            continue
        if tag == "*":
            return DEFAULT_LANGUAGE
        language = tag.replace("_", "-").split("-")[0].lower()
        if language in LANGUAGES:
            return language
    return None


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def local_datetime(value: datetime, format: str = "medium", lang: str | None = None) -> str:  # noqa: A002
    """`mapapp.places.locale.local_datetime` in the page's language unless `lang` is given."""
    return locale.local_datetime(value, format, lang or current_language())


def town_name(rally: HasTown, lang: str | None = None) -> str:
    """The rally's town in the page's language (or `lang`): `mapapp.domain.names.town_name`."""
    return names.town_name(rally, lang or current_language())


def region_name(code: str, lang: str | None = None) -> str:
    """A region's name in the page's language (or `lang`), from its ISO 3166-2 code (the code
    if unknown)."""
    return REGION_NAMES.get(code, {}).get(lang or current_language(), code)


def status_sentence(status: str, lang: str | None = None) -> str:
    """`mapapp.publishing.words.status_sentence` in the page's language unless `lang` is given."""
    return words.status_sentence(status, lang or current_language())


def headline(rally: Any, lang: str | None = None) -> str:  # noqa: ANN401 - a PublicRally
    """`mapapp.publishing.words.headline` in the page's language unless `lang` is given."""
    return words.headline(rally, lang or current_language())


def rescheduled_sentence(previous: datetime, lang: str | None = None) -> str:
    """`mapapp.publishing.words.rescheduled_sentence` in the page's language unless `lang`."""
    return words.rescheduled_sentence(previous, lang or current_language())


def reveal_sentence(reveal_at: datetime, lang: str | None = None) -> str:
    """`mapapp.publishing.words.reveal_sentence` in the page's language unless `lang` is given."""
    return words.reveal_sentence(reveal_at, lang or current_language())


def verification_sentence(rally: object, lang: str | None = None) -> str:
    """How a rally was checked (`mapapp.publishing.words`), in the page's language."""
    return words.verification_sentence(rally, lang or current_language())


# Blueprints of pages for people: their links carry ?lang=; data and files do not. Every
# blueprint with an HTML page is here (tests/test_language_leftovers.py finds them): the
# moderators' account pages and the report form lost the language before.
PAGE_BLUEPRINTS = ("pages", "submit", "moderate", "moderators", "reports", "feeds", "embed")


def duration_words(seconds: float) -> str:
    """A wait or a span in words, to the nearest minute (at least one), in hours past an hour
    and a half: "47 minutes", "60 minutes", "2 hours". Translated in the accusative («праз 47
    хвілін», «ещё 1 минуту»), the case every sentence that uses it needs."""
    minutes = max(1, round(seconds / 60))
    if minutes <= 90:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    hours = math.ceil(minutes / 60)
    return ngettext("%(num)d hour", "%(num)d hours", hours)


def keep_language(endpoint: str, values: dict) -> None:
    """Links between pages keep a language chosen with ?lang= (no cookie needed).

    Links to the feeds keep it too: the rally links inside open in the same language.
    """
    if endpoint.split(".")[0] not in PAGE_BLUEPRINTS or "lang" in values:
        return
    asked = request.args.get("lang") if request else None
    if asked in LANGUAGES:
        values["lang"] = asked


def lang_url(lang: str) -> str:
    """This page in another language: same path and query, another ?lang= (relative).

    The query is copied as text, never passed to url_for as keywords: a parameter named
    like one of url_for's options (`_method`, `_external`, `_anchor`, `_scheme`) or like a
    route argument (`/rallies/5?rally_id=1`) would otherwise change the URL or fail.
    """
    kept = urlencode(
        [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    )
    if request.endpoint and request.url_rule is not None:
        url = url_for(request.endpoint, **(request.view_args or {}), lang=lang)
    else:
        url = request.script_root + request.path + "?" + urlencode({"lang": lang})
    return url + ("&" if "?" in url else "?") + kept if kept else url


def bdi(value: object) -> Markup:
    """User text as `<bdi>` (escaped): its direction cannot reorder the text after it.

    A place ending in U+202E (right-to-left override) would otherwise show the town that
    follows it backwards. None and "" give nothing.
    """
    if value is None or value == "":
        return Markup("")
    return Markup("<bdi>{}</bdi>").format(value)


def without_direction_controls(value: object) -> str:
    """User text with direction controls removed, for plain-text places (<title>, meta tags)."""
    return "".join(c for c in str(value or "") if c not in BIDI_CONTROLS)


def vary_on_language(response: Response) -> Response:
    """A page without ?lang= is in the language of Accept-Language: say so to caches."""
    if response.mimetype == "text/html" and request.args.get("lang") not in LANGUAGES:
        response.vary.add("Accept-Language")
    return response


class MissingCatalogueError(RuntimeError):
    """A language the app offers has no compiled catalogue: its pages would be English."""


def require_catalogues(directories: str, root_path: str = ".") -> None:
    """Refuse to start unless every offered language has a compiled catalogue (.mo).

    `directories` is Flask-Babel's setting: paths separated by ";", relative ones from
    `root_path` (the app's, as Flask-Babel reads them). Without the .mo files
    every page silently shows English, which is worse than not starting.
    """
    roots = [Path(root_path, d) for d in directories.split(";") if d]
    missing = [
        lang
        for lang in LANGUAGES
        if not any((root / lang / "LC_MESSAGES" / "messages.mo").is_file() for root in roots)
    ]
    if missing:
        raise MissingCatalogueError(
            f"no compiled catalogue for {', '.join(missing)} in {directories}: "
            f"run `pybabel compile -d {TRANSLATIONS}` (make install does), "
            "or install from a wheel, which carries them"
        )


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Minsk")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    require_catalogues(app.config["BABEL_TRANSLATION_DIRECTORIES"], app.root_path)
    Babel(app, locale_selector=select_language)
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["bdi"] = bdi
    app.jinja_env.filters["no_bidi"] = without_direction_controls
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    app.jinja_env.globals["lang_url"] = lang_url
    app.jinja_env.globals["town_name"] = town_name
    app.jinja_env.globals["region_name"] = region_name
    app.jinja_env.globals["status_sentence"] = status_sentence
    app.jinja_env.globals["reveal_sentence"] = reveal_sentence
    app.jinja_env.globals["verification_sentence"] = verification_sentence
    app.jinja_env.globals["headline"] = headline
    app.jinja_env.globals["duration_words"] = duration_words
    app.jinja_env.globals["rescheduled_sentence"] = rescheduled_sentence
    app.jinja_env.globals["REGION_CODES"] = REGION_CODES
    app.url_defaults(keep_language)
    app.after_request(vary_on_language)
