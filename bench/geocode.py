"""Speed and accuracy of the offline geocoder on spellings built from the data.

Baseline, measured in the same run: an exact lookup of the folded name (what a plain
dictionary of names would do). Printed: accuracy by kind for both, queries a second,
p50 and p99 latency, start-up time, and ms a query counting start-up.
    .venv/bin/python bench/geocode.py
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict

from mapapp.places.index import distance_km
from mapapp.places.search import Gazetteer
from mapapp.places.spelling import transliterate

REGION_RU = {
    "BY-BR": "Брестская область",
    "BY-HO": "Гомельская обл.",
    "BY-HR": "Grodno Region",
    "BY-HM": "",
    "BY-MI": "Минская область",
    "BY-MA": "Mogilev oblast",
    "BY-VI": "Віцебская вобл.",
}
LOOKALIKE = str.maketrans("аеіос", "aeioc")  # Cyrillic -> Latin look-alikes


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "extra"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    cyrillic = any("\u0400" <= c <= "\u04ff" for c in word)
    return word[:i] + rng.choice("аоеилнр" if cyrillic else "aoeilnr") + word[i:]


def spelling_set(gazetteer: Gazetteer, seed: int = 1) -> list[tuple[str, str, float, float, float]]:
    """(kind, query, lat, lon, tolerance km) built from the gazetteer's own data."""
    rng = random.Random(seed)
    cases = []
    for place in gazetteer.places:
        point = (place.lat, place.lon, 5.0)
        cases += [
            ("cyrillic-be", place.name_be, *point),
            ("cyrillic-ru", place.name_ru, *point),
            ("latin", place.name, *point),
            ("latin", transliterate(place.name_be, "by-2007").title(), *point),
            ("latin", transliterate(place.name_ru, "icao-ru").title(), *point),
            ("latin", transliterate(place.name_be, "bgn-be").title(), *point),
            ("case", place.name_ru.upper(), *point),
            ("mixed-script", place.name_be.translate(LOOKALIKE), *point),
            ("qualified", f"г. {place.name_ru}", *point),
            ("qualified", f"{place.name}, Belarus", *point),
            ("qualified", f"{place.name_ru}, {REGION_RU[place.region]}".rstrip(", "), *point),
            ("address", f"вул. Савецкая, 12, {place.name_be}", *point),
        ]
        if len(place.name_ru) >= 6:
            cases.append(("typo", typo(place.name_ru, rng), *point))
        if len(place.name) >= 6:
            cases.append(("typo", typo(place.name, rng), *point))
    for square in gazetteer.squares:
        point = (square.lat, square.lon, 0.4)
        town = square.town
        cases += [
            ("square", f"{square.name_be}, {town.name_be}", *point),
            ("square", f"{square.name_ru}, {town.name_ru}", *point),
            ("square", f"{square.name_en}, {town.name}", *point),
            ("square", f"{town.name_ru}, {square.aliases[2]}", *point),
            ("square", f"{square.name_ru} {town.name_ru}", *point),  # no comma
        ]
    return cases


def run(name, geocode, cases):  # noqa: ANN001, ANN201
    right: dict[str, list[bool]] = defaultdict(list)
    took = []
    for kind, query, lat, lon, tolerance in cases:
        start = time.perf_counter()
        found = geocode(query)
        took.append(time.perf_counter() - start)
        ok = found is not None and distance_km(lat, lon, found[0], found[1]) <= tolerance
        right[kind].append(ok)
    return right, took


def main() -> None:
    start = time.perf_counter()
    gazetteer = Gazetteer.load()
    startup = time.perf_counter() - start
    cases = spelling_set(gazetteer)

    def full(query):  # noqa: ANN001, ANN202
        match = gazetteer.geocode(query)
        return (match.lat, match.lon) if match else None

    def exact(query):  # noqa: ANN001, ANN202
        place = gazetteer.by_name(query)
        return (place.lat, place.lon) if place else None

    base_right, base_took = run("exact", exact, cases)
    right, took = run("gazetteer", full, cases)
    total = len(cases)
    print(
        f"{total} spellings of {len(gazetteer.places)} places and {len(gazetteer.squares)} squares"
    )
    print(f"{'kind':14s} {'cases':>6s} {'exact lookup':>13s} {'gazetteer':>10s}")
    for kind in sorted(right):
        n = len(right[kind])
        base = sum(base_right[kind]) / n
        full_rate = sum(right[kind]) / n
        print(f"{kind:14s} {n:6d} {base:12.1%} {full_rate:10.1%}")
    overall = sum(sum(v) for v in right.values()) / total
    base_overall = sum(sum(v) for v in base_right.values()) / total
    print(f"{'overall':14s} {total:6d} {base_overall:12.1%} {overall:10.1%}"
          f"  ({overall / base_overall:.2f}x the baseline)")  # fmt: skip
    p50, p99 = (statistics.quantiles(took, n=100)[i] * 1000 for i in (49, 98))
    b50 = statistics.median(base_took) * 1000
    print(f"latency p50 {p50:.3f} ms (baseline {b50:.3f} ms, {p50 / b50:.1f}x), p99 {p99:.3f} ms")
    print(f"queries a second: {total / sum(took):,.0f} (baseline {total / sum(base_took):,.0f})")
    per_query = (startup + sum(took)) / total * 1000
    print(
        f"start-up (load + index) {startup * 1000:.0f} ms; a query counting it {per_query:.3f} ms"
    )


if __name__ == "__main__":
    main()
