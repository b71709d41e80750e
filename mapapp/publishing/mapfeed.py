"""The map's own feed: what the map needs to draw and filter its rallies, and nothing else.

`/api/rallies.geojson?fields=map` gives this compact form of the public rallies. It stays
GeoJSON (a FeatureCollection of Points, each with the rally id), with two tables beside
the features (foreign members, RFC 7946 section 6.1):

    {"type": "FeatureCollection",
     "towns": ["Мінск", "Гродна", ...],
     "day_names": {"2027-10-21": "чацвер, 21 кастрычніка 2027 г.", ...},   (with a language)
     "features": [{"type": "Feature", "id": 12,
                   "geometry": {"type": "Point", "coordinates": [27.56171, 53.90222]},
                   "properties": {"status": "approved", "featured": true,
                                  "verification": "moderators",
                                  "town": 0, "day": "2027-10-21", "rev": 2}}, ...]}

- `town` is an index into `towns` (in the asked language, else as written);
- `day` is the Minsk date the rally starts on; `day_names` gives each day in words;
- `verification` is how it was checked (mapapp.publishing.public.verification): the map
  draws each grade differently and says it in the marker's name;
- `rev` is the rally's public revision (mapapp.publishing.public), moved by every public change;
- coordinates are rounded to 5 decimals (about 1 m); an unrevealed place is its town's
  point already (mapapp.publishing.public);
- written in ASCII: letters past it as `\\uXXXX` (see _json);
- no title, description or place text: the map loads them for one rally when its popup
  opens (`/api/rallies/<id>?lang=`). So no user text can leak through this feed, and it
  stays small: about 17 bytes a rally gzipped, against 36 for the full feed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache

from babel.dates import format_date

from mapapp.domain.names import town_name
from mapapp.places.locale import MINSK
from mapapp.publishing.parts import Layout
from mapapp.publishing.public import Entry, PublicRally, verification

# 5 decimals of a degree: 1.1 m of latitude; finer is noise for a marker.
DECIMALS = 5

# The name parts of this feed are kept under (mapapp.publishing.partstore): it moves with the
# part's format, so that parts a server stored before (without `verification`) are made
# again, not served.
MAP_PART = "map-2"


def day_name(day: date, lang: str) -> str:
    """A day in words in `lang`, as the list and rally pages write it (babel's "full")."""
    return format_date(day, "full", locale=lang)


def map_feature(rally: PublicRally, town: int, day: str) -> dict:
    """One rally of the map's feed: a GeoJSON Feature with its id, point (DECIMALS), status,
    featured, `verification` (public rallies only), `town` (an index into the document's
    `towns`) and `day` (Minsk ISO date)."""
    feature = {
        "type": "Feature",
        "id": rally.id,
        "geometry": {
            "type": "Point",
            "coordinates": [round(rally.lon, DECIMALS), round(rally.lat, DECIMALS)],
        },
        "properties": {
            "status": rally.status,
            "featured": rally.featured,
            "town": town,
            "day": day,
            # The rally's public revision: a change the other fields do not show (a new time
            # on the same day, a new text) still tells an open map to load its details again.
            "rev": rally.sequence,
        },
    }
    if getattr(rally, "checked_by", None) is not None:  # none on moderators' working copies
        feature["properties"]["verification"] = verification(rally)
    return feature


def map_collection(rallies: Sequence[PublicRally], lang: str | None = None) -> bytes:
    """The compact GeoJSON of `rallies` (in their order), as JSON bytes in ASCII (_json).

    With `lang` (be, ru or en) town names and `day_names` are in that language; without
    it, towns are as written and there are no day names (the same document for everyone).
    """
    towns: dict[str, int] = {}
    days: dict[str, date] = {}
    features = []
    for rally in rallies:
        town = town_name(rally, lang) if lang else rally.town
        day = rally.starts_at.astimezone(MINSK).date()
        iso = day.isoformat()
        days.setdefault(iso, day)
        features.append(map_feature(rally, towns.setdefault(town, len(towns)), iso))
    document: dict = {"type": "FeatureCollection", "towns": list(towns)}
    if lang:
        document["day_names"] = {iso: day_name(day, lang) for iso, day in days.items()}
    document["features"] = features
    return _json(document)


# The same document made again after a change from what each rally's entry keeps
# (mapapp.publishing.public.Entry), for /api/rallies.geojson?fields=map: byte for byte what
# map_collection gives (tests/test_parts.py checks it), in a fraction of the time.
# Days in words, kept: babel takes a tenth of a millisecond a day, and a year has 365.
@lru_cache(maxsize=4096)
def _day_name(iso: str, lang: str) -> str:
    return day_name(date.fromisoformat(iso), lang)


def map_part(rally: PublicRally, lang: str | None) -> tuple[bytes, bytes, str, str]:
    """A rally's entry in the map's feed, in `lang`: its Feature's JSON before and after the
    town index, its town's name and its Minsk day (ISO). The index moves with the filter (a
    town's place in `towns`): keeping a part per index would let visitors asking for many
    filters grow every entry up to one part per town."""
    day = rally.starts_at.astimezone(MINSK).date().isoformat()
    town = town_name(rally, lang) if lang else rally.town
    before, after = _json(map_feature(rally, -1, day)).split(b'"town":-1', 1)
    return before + b'"town":', after, town, day


def map_layout_and_parts(
    entries: Sequence[Entry],
    lang: str | None = None,
    load: Callable[[list[Entry], tuple], object] | None = None,
    save: Callable[[list[Entry], tuple], object] | None = None,
) -> tuple[Layout, list[bytes]]:
    """map_collection's document as a Layout and one part a rally (mapapp.publishing.parts).

    Each entry keeps its `map_part` (per language) under (MAP_PART, lang): only a rally new or
    changed since is serialised again (unless `load` finds it in the shared store,
    mapapp.publishing.partstore; what is made is handed to `save`), and what an entry keeps
    does not grow with the filters asked for. The head (the `towns` and `day_names` tables)
    is made each time.
    """
    towns: dict[str, int] = {}
    days: dict[str, None] = {}
    parts = []
    if load is not None:
        missing = [entry for entry in entries if (MAP_PART, lang) not in entry.parts]
        if missing:
            load(missing, (MAP_PART, lang))
    made = []
    for entry in entries:
        around = entry.parts.get((MAP_PART, lang))
        if around is None:
            around = entry.parts[(MAP_PART, lang)] = map_part(entry.rally, lang)
            made.append(entry)
        before, after, town, iso = around
        days.setdefault(iso, None)
        index = towns.setdefault(town, len(towns))
        parts.append(b"%s%d%s" % (before, index, after))
    if save is not None and made:
        save(made, (MAP_PART, lang))
    head: dict = {"type": "FeatureCollection", "towns": list(towns)}
    if lang:
        head["day_names"] = {iso: _day_name(iso, lang) for iso in days}
    # {"type":...,"towns":[...],"day_names":{...}} less its "}", then the features.
    return Layout(_json(head)[:-1] + b',"features":[', b",", b"]}"), parts


# ASCII only: a town or a day in Cyrillic written as \uXXXX (at 10,000 rallies in Belarusian
# 32 KB more in 2.1 MB, 0.6 KB gzipped). Browsers decode a document of nothing but ASCII into a
# one-byte string, and parse that faster: a single Cyrillic letter anywhere made the whole 2 MB
# feed (10,000 rallies) a two-byte string, its decoding about 5x and its JSON.parse about 1.5x
# slower (Chromium, 4x CPU). The same JSON for every reader.
def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode()
