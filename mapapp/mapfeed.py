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
                                  "town": 0, "day": "2027-10-21"}}, ...]}

- `town` is an index into `towns` (in the asked language, else as written);
- `day` is the Minsk date the rally starts on; `day_names` gives each day in words;
- coordinates are rounded to 5 decimals (about 1 m); an unrevealed place is its town's
  point already (mapapp.public);
- no title, description or place text: the map loads them for one rally when its popup
  opens (`/api/rallies/<id>?lang=`). So no user text can leak through this feed, and it
  stays small: about 17 bytes a rally gzipped, against 36 for the full feed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from babel.dates import format_date

from mapapp.i18n import MINSK, town_name
from mapapp.public import PublicRally

# 5 decimals of a degree: 1.1 m of latitude; finer is noise for a marker.
DECIMALS = 5


def day_name(day: date, lang: str) -> str:
    """A day in words in `lang`, as the list and rally pages write it (babel's "full")."""
    return format_date(day, "full", locale=lang)


def map_collection(rallies: Sequence[PublicRally], lang: str | None = None) -> bytes:
    """The compact GeoJSON of `rallies` (in their order), as UTF-8 JSON bytes.

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
        features.append(
            {
                "type": "Feature",
                "id": rally.id,
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(rally.lon, DECIMALS), round(rally.lat, DECIMALS)],
                },
                "properties": {
                    "status": rally.status,
                    "featured": rally.featured,
                    "town": towns.setdefault(town, len(towns)),
                    "day": iso,
                },
            }
        )
    document: dict = {"type": "FeatureCollection", "towns": list(towns)}
    if lang:
        document["day_names"] = {iso: day_name(day, lang) for iso, day in days.items()}
    document["features"] = features
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
