"""The query parameters shared by /, /embed, /rallies and the feeds (design.md)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import Select, func, or_

from mapapp.domain import rules
from mapapp.domain.models import Rally
from mapapp.places.locale import MINSK
from mapapp.places.mapshell import MAX_ZOOM, MIN_ZOOM
from mapapp.places.regions import REGION_CODES
from mapapp.places.search import Gazetteer

WHEN = ("upcoming", "past", "all")
# A town filter: no control characters (Unicode Cc, NUL to U+009F) nor direction controls.
CITY_CHARACTERS = "[^\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*"
CITY_PATTERN = re.compile(CITY_CHARACTERS)
# A rally stays "upcoming" for a while after it starts, so people on their way still find it.
ONGOING = timedelta(hours=3)
# Dates near year 1 or 9999 overflow when turned into Minsk midnights in UTC; no rally is there.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


class BadFilter(ValueError):
    """A query parameter with a value we cannot use; the message is shown to the user.

    The message is lazy: a page shows it in the page's language, the API in English.
    """


def one_of(name: str, values: tuple[str, ...]) -> BadFilter:
    return BadFilter(
        lazy_gettext("'%(name)s' must be one of: %(values)s", name=name, values=", ".join(values))
    )


@dataclass(frozen=True)
class RallyFilter:
    when: str = "upcoming"
    region: str | None = None
    city: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    city_id: int | None = None  # the gazetteer's town for `city`, whatever its spelling
    featured: bool = False  # the main rally only (partner sites embed just that)

    def key(self) -> str:
        return (
            f"{self.when}|{self.region}|{self.city}|{self.date_from}|{self.date_to}|{self.featured}"
        )

    def args(self) -> dict[str, str]:
        """The filter as query parameters: links to the same rallies in another format."""
        values = {
            "when": self.when if self.when != "upcoming" else None,
            "region": self.region,
            "city": self.city,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "featured": "1" if self.featured else None,
        }
        return {name: value for name, value in values.items() if value}

    def apply(self, query: Select, now: datetime, table: type = Rally) -> Select:
        """The filter on a query of `table` (Rally, or PublishedRally for the public)."""
        cutoff = now - ONGOING
        if self.when == "upcoming":
            query = query.where(table.starts_at >= cutoff).order_by(
                table.featured.desc(), table.starts_at, table.id
            )
        elif self.when == "past":
            query = query.where(table.starts_at < cutoff).order_by(table.starts_at.desc(), table.id)
        else:
            query = query.order_by(table.featured.desc(), table.starts_at, table.id)
        if self.region:
            query = query.where(table.region == self.region)
        if self.city:
            # A town as typed, in any case ("ГРОДНО", "гродно"): the database folds both sides
            # with its lower(), which folds every script (mapapp.domain.db gives SQLite one).
            same_town = func.lower(table.town) == func.lower(self.city)
            if self.city_id is not None:
                same_town = or_(table.geonameid == self.city_id, same_town)
            query = query.where(same_town)
        if self.date_from:
            query = query.where(table.starts_at >= datetime.combine(self.date_from, time(), MINSK))
        if self.date_to:
            next_day = datetime.combine(self.date_to + timedelta(days=1), time(), MINSK)
            query = query.where(table.starts_at < next_day)
        if self.featured:
            query = query.where(table.featured.is_(True))
        return query


def _date(name: str, raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(
            lazy_gettext("'%(name)s' must be a date like 2027-10-21", name=name)
        ) from None


def flag(args: dict[str, str], name: str) -> bool:
    """A yes/no parameter: 1 is yes; 0, empty or absent is no."""
    raw = args.get(name) or "0"
    if raw not in ("0", "1"):
        raise one_of(name, ("0", "1"))
    return raw == "1"


def parse_filter(args: dict[str, str], gazetteer: Gazetteer | None = None) -> RallyFilter:
    when = args.get("when") or "upcoming"
    if when not in WHEN:
        raise one_of("when", WHEN)
    region = (args.get("region") or "").upper() or None
    if region and region not in REGION_CODES:
        raise one_of("region", REGION_CODES)
    # No town name has control characters (NUL to U+009F) or direction controls, and
    # PostgreSQL refuses a NUL in a query; other invisible characters simply match no town.
    # Checked as given, before white space is trimmed: the OpenAPI document's CITY_PATTERN.
    if not CITY_PATTERN.fullmatch(args.get("city") or ""):
        raise BadFilter(
            lazy_gettext("'%(name)s' contains characters that are not allowed", name="city")
        )
    city = rules.normalise(args.get("city") or "") or None  # NFC, as towns are stored
    if city and len(city) > 120:
        raise BadFilter(lazy_gettext("'%(name)s' is too long", name="city"))
    date_from, date_to = _date("from", args.get("from")), _date("to", args.get("to"))
    for name, value in (("from", date_from), ("to", date_to)):
        if value and not EARLIEST <= value <= LATEST:
            raise BadFilter(
                lazy_gettext(
                    "'%(name)s' must be between %(first)s and %(last)s",
                    name=name,
                    first=EARLIEST.isoformat(),
                    last=LATEST.isoformat(),
                )
            )
    if date_from and date_to and date_from > date_to:
        raise BadFilter(
            lazy_gettext("'%(first)s' must not be after '%(second)s'", first="from", second="to")
        )
    featured = flag(args, "featured")
    town = gazetteer.by_name(city) if (city and gazetteer) else None
    return RallyFilter(
        when, region, city, date_from, date_to, town.geonameid if town else None, featured
    )


# Where a map may be centred: Belarus and a margin around it. A centre further away is a
# mistake in a link, not a wish to look at rallies in Belarus.
VIEW_LAT = (49.0, 59.0)
VIEW_LON = (21.0, 35.0)


@dataclass(frozen=True)
class MapView:
    """A centre and zoom asked for with ?lat=&lon=&zoom= (static/map/view.js reads them too).

    The zoom may be fractional, as Leaflet has it (the map's first view fits Belarus at a
    quarter level, 6.75, and the page writes the view it shows into its address)."""

    lat: float | None = None
    lon: float | None = None
    zoom: float | None = None


def number(
    args: dict[str, str], name: str, low: float, high: float, whole: bool = False
) -> float | None:
    """An optional number parameter from low to high; anything else is a BadFilter."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and low <= value <= high:
        return value
    limits = {"name": name, "low": f"{low:g}", "high": f"{high:g}"}
    if whole:
        raise BadFilter(
            lazy_gettext("'%(name)s' must be a whole number from %(low)s to %(high)s", **limits)
        )
    raise BadFilter(lazy_gettext("'%(name)s' must be a number from %(low)s to %(high)s", **limits))


def parse_view(args: dict[str, str]) -> MapView:
    lat = number(args, "lat", *VIEW_LAT)
    lon = number(args, "lon", *VIEW_LON)
    if (lat is None) != (lon is None):
        raise BadFilter(
            lazy_gettext(
                "'%(first)s' and '%(second)s' must be given together", first="lat", second="lon"
            )
        )
    return MapView(lat, lon, view_zoom(args))


ZOOM_TEXT = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{1,12})?", re.ASCII)


def view_zoom(args: dict[str, str]) -> float | None:
    """?zoom=, any number (fractional too), brought into MIN_ZOOM..MAX_ZOOM: a link's zoom is
    how near to look at a centre it names, and a person following a link with zoom=20 (from
    another map, or typed) wants that place as near as this map goes, not an error page;
    Leaflet brings it in the same way (static/map/view.js). Junk (not a number) is still a
    BadFilter: nothing in it says what was meant."""
    raw = (args.get("zoom") or "").strip()
    if not raw:
        return None
    # Plain decimals only, read alike here and by the page's parseFloat ("7_5", "1e1" and
    # "inf" are floats to Python).
    value = float(raw) if ZOOM_TEXT.fullmatch(raw) else math.nan
    if not math.isfinite(value):
        limits = {"name": "zoom", "low": f"{MIN_ZOOM:g}", "high": f"{MAX_ZOOM:g}"}
        raise BadFilter(
            lazy_gettext("'%(name)s' must be a number from %(low)s to %(high)s", **limits)
        )
    return min(max(value, MIN_ZOOM), MAX_ZOOM)
