"""Checks every catalogue entry, not only that it is translated (msgfmt --statistics cannot).

Finds, in mapapp/translations/{be,ru,en}:
- Belarusian or Russian translations with a Latin-letter sentence in them (an English
  sentence glued onto a translation), beyond names such as Telegram, GeoJSON or Leaflet;
- English translations that are not their msgid (English is the source language);
- placeholders (%(name)s, {name}) missing or added;
- words docs/glossary.md rules out (Belarusian «карта», «сетка», «кольца», «ухваліць»,
  «даслаць», «адхіліць мадэратара»; Russian «знаков», «регион», «всем сказано»), so that a
  new entry keeps to the glossary.

Run: python scripts/check_catalogues.py (exit status 1 when something is found);
tests/test_catalogues.py runs it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1] / "mapapp" / "translations"
# Three Latin words in a row are an English phrase (names and codes are one or two words).
LATIN_RUN = re.compile(r"\b[A-Za-z][a-z']+(?:[ ,]+[A-Za-z][a-z']+){2,}")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
# Latin runs that belong in a translation: names of things, examples of spellings.
ALLOWED = ("Saved Messages", "Hrodna", "OpenStreetMap", "Europe/Minsk", "Creative Commons")
# English entries worded otherwise on purpose: WTForms' own messages (mapapp.web.forms).
EN_REWORDED = {"Not a valid date value.", "Not a valid time value."}
# Words docs/glossary.md rules out, with the word it uses instead.
NOT_GLOSSARY = {
    "be": (
        (re.compile(r"\bкарт(а|ы|е|у|ай|аў)\b", re.I), "мапа"),
        (re.compile(r"\bсетк", re.I), "інтэрнэт, злучэнне"),
        (re.compile(r"\bкольца\b", re.I), "кальцо"),
        (re.compile(r"\bухвал", re.I), "зацвердзіць, зацвярджэнне"),
        (re.compile(r"\bдасла", re.I), "адправіць, адпраўлена"),
        (re.compile(r"скапіра", re.I), "скапіяваць"),
        (re.compile(r"\bрэгіён", re.I), "вобласць"),
        (re.compile(r"\bабярыце\b", re.I), "выберыце"),
        (
            re.compile(r"\bадхіл\w*\s+(ад\s+мадэрацыі|(гэтага\s+)?мадэратара\b)", re.I),
            "адстараніць",
        ),
        (re.compile(r"усім сказана", re.I), "папярэджанне «Небяспека: не прыходзьце»"),
    ),
    "ru": (
        (re.compile(r"\bзнаков\b", re.I), "символов"),
        (re.compile(r"\bрегион", re.I), "область"),
        (re.compile(r"\bбудущие\b", re.I), "предстоящие"),
        (re.compile(r"\bпубличн\w* ключ", re.I), "открытый ключ"),
        (re.compile(r"всем сказано", re.I), "предупреждение «Опасность: не приходите»"),
    ),
}


def problems(root: Path = ROOT) -> list[str]:
    found = []
    for lang in ("be", "ru", "en"):
        path = root / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        for message in catalog:
            if isinstance(message.id, tuple):  # plural forms: each one written
                if not all(message.string):
                    found.append(f"{lang}: untranslated plural: {message.id[0]!r}")
                continue
            if not message.id:
                continue
            text = message.string
            if not text:
                found.append(f"{lang}: untranslated: {message.id!r}")
                continue
            if lang == "en" and text != message.id and message.id not in EN_REWORDED:
                found.append(f"en: differs from its msgid: {message.id!r} -> {text!r}")
            if lang != "en":
                for run in LATIN_RUN.findall(text):
                    if not any(run in allowed or allowed in run for allowed in ALLOWED):
                        found.append(f"{lang}: Latin words in {message.id!r}: {run!r}")
            for pattern, instead in NOT_GLOSSARY.get(lang, ()):
                if word := pattern.search(text):
                    found.append(
                        f"{lang}: {word[0]!r} in {message.id!r}: the glossary says {instead}"
                    )
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(message.id)):
                found.append(f"{lang}: placeholders differ in {message.id!r}")
    return found


if __name__ == "__main__":
    found = problems()
    print("\n".join(found) or "every entry checked: nothing found")
    sys.exit(1 if found else 0)
