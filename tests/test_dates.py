"""Dates as natives write them: no two-digit years or cut months ("21.10.27", "13 сне"), the
list in words, Minsk time (mapapp.places.locale and every page that uses it)."""

import re
from datetime import UTC, datetime

import pytest
from conftest import add_rally

from mapapp.places.locale import local_datetime

NUMERIC = re.compile(r"^\d\d\.\d\d\.\d{4}, \d\d:\d\d$")


@pytest.mark.parametrize("month", range(1, 13))
def test_belarusian_and_russian_dates_in_every_form(month):
    moment = datetime(2027, month, 21, 15, 0, tzinfo=UTC)  # 18:00 in Minsk
    for lang in ("be", "ru"):
        short = local_datetime(moment, "short", lang)
        assert NUMERIC.match(short), short
        assert short == f"21.{month:02d}.2027, 18:00"
    # Belarusian "medium" writes the month in full, as "long" does (no «сне», «кас»).
    be_long = local_datetime(moment, "long", "be")
    assert local_datetime(moment, "medium", "be") == be_long
    assert re.match(r"^21 [а-яіўё]{3,} 2027\s?г\., 18:00$", be_long), be_long


def test_december_in_belarusian():
    moment = datetime(2026, 12, 13, 15, 0, tzinfo=UTC)
    assert local_datetime(moment, "medium", "be") == "13 снежня 2026\u202fг., 18:00"
    assert local_datetime(moment, "long", "ru") == "13 декабря 2026\u202fг., 18:00"


def test_the_list_writes_dates_in_words(app, client):
    add_rally(app, starts_at=datetime(2027, 10, 21, 15, 0, tzinfo=UTC))
    pages = {
        lang: client.get(f"/rallies?lang={lang}&when=all").get_data(as_text=True)
        for lang in ("be", "ru")
    }
    assert "21 кастрычніка 2027\u202fг., 18:00" in pages["be"]
    assert "21 октября 2027\u202fг., 18:00" in pages["ru"]
    assert "21.10.27" not in pages["be"] and "21.10.2027" not in pages["ru"]
