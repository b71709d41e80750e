"""Build data/basemap.json: the light map the app draws itself when no tile loads.

Run when data/boundaries/ or data/places.json change (standard library only):
    python scripts/build_basemap.py

The outlines are simplified with Douglas-Peucker (about 1 km, invisible at the
country and region zooms where a tile-less map is read) and rounded to 3 decimals;
towns get the zoom from which their name is shown: the regional centres always, the
other towns by population as the map zooms in.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapapp.places.regions import REGION_CODES, REGION_NAMES  # noqa: E402

DATA = ROOT / "data"
OUT = DATA / "basemap.json"
TOLERANCE = 0.01  # degrees, about 1 km north-south
DECIMALS = 3
LANGS = ("be", "ru", "en")
# (least population, zoom from which the name shows); regional centres show from the start.
TOWN_ZOOMS = ((50_000, 7), (20_000, 8), (10_000, 9), (0, 10))
REGIONAL_CENTRES = 6  # Minsk and the five other regions' capitals are the six biggest towns


def _distance(point: list[float], start: list[float], end: list[float]) -> float:
    """Distance from point to the segment start-end, in degrees (flat is fine at 1 km)."""
    (x, y), (x1, y1), (x2, y2) = point, start, end
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return math.hypot(x - x1, y - y1)
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - x1 - t * dx, y - y1 - t * dy)


def simplify(points: list[list[float]], tolerance: float) -> list[list[float]]:
    """Douglas-Peucker, iterative (rings have ~1,000 points: no recursion limit worries)."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        index, farthest = first, 0.0
        for i in range(first + 1, last):
            d = _distance(points[i], points[first], points[last])
            if d > farthest:
                index, farthest = i, d
        if farthest > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, kept in zip(points, keep, strict=True) if kept]


def simplify_ring(ring: list[list[float]]) -> list[list[float]]:
    # A closed ring: split at the point farthest from the start so both halves simplify.
    far = max(range(len(ring)), key=lambda i: math.dist(ring[0], ring[i]))
    halves = simplify(ring[: far + 1], TOLERANCE)[:-1] + simplify(ring[far:], TOLERANCE)
    return [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in halves]


def _in_ring(x: float, y: float, ring: list[list[float]]) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (xi, yi), (xj, yj) = ring[i], ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def label_point(rings: list[list[list[float]]]) -> list[float]:
    """The point inside the polygon (holes excluded) farthest from its edges: [lat, lon]."""
    xs = [p[0] for p in rings[0]]
    ys = [p[1] for p in rings[0]]
    best, best_distance = None, -1.0
    steps = 60
    for i in range(1, steps):
        for j in range(1, steps):
            x = min(xs) + (max(xs) - min(xs)) * i / steps
            y = min(ys) + (max(ys) - min(ys)) * j / steps
            if not _in_ring(x, y, rings[0]) or any(_in_ring(x, y, r) for r in rings[1:]):
                continue
            scale = math.cos(math.radians(y))  # a degree of longitude is shorter
            edge = min(
                math.hypot((a[0] - x) * scale, a[1] - y) for ring in rings for a in ring[::2]
            )
            if edge > best_distance:
                best, best_distance = (x, y), edge
    assert best is not None
    return [round(best[1], DECIMALS), round(best[0], DECIMALS)]


def _geometry(name: str) -> list[list[list[float]]]:
    geometry = json.loads((DATA / "boundaries" / f"{name}.json").read_text("utf-8"))["geometry"]
    assert geometry["type"] == "Polygon", name
    return geometry["coordinates"]


def build() -> dict:
    regions = []
    for code in REGION_CODES:
        rings = [simplify_ring(r) for r in _geometry(code)]
        regions.append(
            {
                "code": code,
                "names": [REGION_NAMES[code][lang] for lang in LANGS],
                "label": label_point(rings),
                "rings": rings,
            }
        )
    places = json.loads((DATA / "places.json").read_text("utf-8"))
    places.sort(key=lambda p: -p["population"])
    towns = []
    for rank, place in enumerate(places):
        zoom = (
            5
            if rank < REGIONAL_CENTRES
            else next(z for n, z in TOWN_ZOOMS if place["population"] >= n)
        )
        towns.append(
            {
                "names": [place["name_be"], place["name_ru"], place["name"]],
                "point": [round(place["lat"], DECIMALS), round(place["lon"], DECIMALS)],
                "zoom": zoom,
            }
        )
    return {
        "langs": list(LANGS),
        "outline": [simplify_ring(r) for r in _geometry("BY")],
        "regions": regions,
        "towns": towns,  # biggest first: the client places names in this order
    }


def main() -> None:
    text = json.dumps(build(), ensure_ascii=False, separators=(",", ":"))
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"Wrote {OUT} ({len(text.encode()) // 1024} KB)")


if __name__ == "__main__":
    main()
