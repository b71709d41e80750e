"""Searching the gazetteer: the best place for what a person typed, with alternatives.

A query is split into parts (town, street, square, region, district), each part matched
against the index exactly, then with typos forgiven (rapidfuzz, optimal string alignment).
Pure: no Flask.
"""

from __future__ import annotations

import re

from rapidfuzz import process
from rapidfuzz.distance import OSA

from mapapp.places.index import Candidate, Match, Place, PlaceIndex, Square
from mapapp.places.regions import compatible, region_in
from mapapp.places.spelling import (
    COUNTRY_WORDS,
    DISTRICT_WORDS,
    LEADING_WORDS,
    REGION_WORDS,
    SQUARE_WORDS,
    STREET_WORDS,
    TOWN_PREFIXES,
    fold_words,
    strip_affixes,
)


def _max_typos(length: int) -> int:
    if length <= 3:
        return 0
    if length <= 5:
        return 1
    if length <= 10:
        return 2
    return 3


def _split_markers(words: list[str]) -> list[list[str]]:
    """Split "ул ленина 5 г пинск" into ["ул ленина 5", "г пинск"]: at a town prefix or a
    street word in mid-part, and after a house number that more words follow."""
    parts: list[list[str]] = [[]]
    for word in words:
        current = parts[-1]
        starts_new = current and (
            (current[-1] in SQUARE_WORDS and len(current) > 1)  # "October Square Minsk"
            or word in STREET_WORDS
            or (word in SQUARE_WORDS and not _ends_with_square_name(current))
            or (word in TOWN_PREFIXES and len(word) <= 5 and word not in {"в", "у", "of", "d"})
            or (current[-1][0].isdigit() and not word[0].isdigit())
        )
        if starts_new:
            parts.append([])
        parts[-1].append(word)
    return [p for p in parts if p]


def _ends_with_square_name(words: list[str]) -> bool:
    # "Октябрьская площадь": the square word closes the name that came before it.
    return bool(words) and words[0] not in STREET_WORDS and not words[-1][0].isdigit()


class Gazetteer(PlaceIndex):
    """The place index, searched: `geocode(query)` gives a Match or None."""

    # -- geocoding ---------------------------------------------------------------------

    def _towns(self, words: list[str], region: str | None) -> list[tuple[float, Place, str]]:
        """Towns a group of words may name, best first, as (score, place, matched name)."""
        key = " ".join(strip_affixes(words))
        if not key:
            return []
        found: list[tuple[float, Place, str]] = []
        exact = self._town_index.get(key)
        if exact:
            found = [(1.0, place, name) for place, name in exact]
        else:
            limit = _max_typos(len(key))
            if limit:
                for choice, distance, _ in process.extract(
                    key, self._town_keys, scorer=OSA.distance, score_cutoff=limit, limit=12
                ):
                    score = 0.92 - 0.12 * distance
                    for place, name in self._town_index[choice]:
                        found.append((score, place, name))
        if region:
            found = [
                (s + (0.05 if compatible(p.region, region) else -0.3), p, n) for s, p, n in found
            ]
        best: dict[int, tuple[float, Place, str]] = {}
        for score, place, name in found:
            if place.geonameid not in best or score > best[place.geonameid][0]:
                best[place.geonameid] = (score, place, name)
        return sorted(best.values(), key=lambda t: (-round(t[0], 6), -t[1].population))

    def _squares(
        self, words: list[str], town: Place | None, exact: bool = False
    ) -> list[tuple[float, Square]]:
        core = " ".join(w for w in words if w not in SQUARE_WORDS) or " ".join(words)
        found = [(1.0, square) for square in self._square_index.get(core, [])]
        if not found and not exact and _max_typos(len(core)):
            for choice, distance, _ in process.extract(
                core, self._square_keys, scorer=OSA.distance, score_cutoff=_max_typos(len(core))
            ):
                found.extend((0.9 - 0.1 * distance, s) for s in self._square_index[choice])
        if town is not None:
            found = [(s, q) for s, q in found if q.town.geonameid == town.geonameid]
        found.sort(key=lambda t: (-t[0], -t[1].town.population))
        return found

    def _town_at_an_end(self, group: list[str], region: str | None):  # noqa: ANN202
        for size in (3, 2, 1):
            if len(group) <= size:
                continue
            for town_words, rest in ((group[-size:], group[:-size]), (group[:size], group[size:])):
                towns = self._towns(town_words, region)
                if towns and towns[0][0] >= 1.0:
                    return (towns[0], towns[1:]), rest
        return None

    def region_named(self, query: str) -> str | None:
        """The region a query names in a part of its own ("Навасёлкі, Мінская вобласць"):
        its ISO code, or None when it names none."""
        region = None
        for raw_part in re.split(r"[,;|\n()]+", query or ""):
            words = fold_words(raw_part)
            if any(w in REGION_WORDS for w in words):
                region = region_in(words) or region
        return region

    def geocode(self, query: str) -> Match | None:
        """The best answer for what a person typed, or None when nothing fits."""
        if not query or len(query) > 300:
            return None
        region = None
        town_groups: list[tuple[bool, list[str]]] = []  # (had a town prefix, words)
        street_groups: list[list[str]] = []
        square_groups: list[list[str]] = []
        for raw_part in re.split(r"[,;|\n()]+", query):
            words = fold_words(raw_part)
            while len(words) > 1 and words[0] in LEADING_WORDS:
                words.pop(0)
            while words and words[-1] in COUNTRY_WORDS:
                words.pop()
            while words and words[0] in COUNTRY_WORDS and len(words) > 1:
                words.pop(0)
            if not words:
                continue
            if any(w in REGION_WORDS for w in words):
                region = region_in(words) or region
                continue
            if any(w in DISTRICT_WORDS for w in words) and len(words) <= 3:
                continue  # "Пинский район": the town named elsewhere decides
            # A whole part that names a town stays whole ("Красное Село", "Николаевка-2").
            whole = " ".join(strip_affixes(words)) in self._town_index
            for group in [words] if whole else _split_markers(words):
                if whole:
                    town_groups.append((words[0] in TOWN_PREFIXES, group))
                elif group[0] in SQUARE_WORDS or (group[-1] in SQUARE_WORDS and len(group) > 1):
                    square_groups.append(group)
                elif group[0] in STREET_WORDS or any(w[0].isdigit() for w in group):
                    street_groups.append(group)
                else:
                    town_groups.append((group[0] in TOWN_PREFIXES, group))

        # The town: a part that names one, prefixed parts ("г. Пинск") first.
        town_groups.sort(key=lambda g: not g[0])
        best: tuple[float, Place, str] | None = None
        runners_up: list[tuple[float, Place, str]] = []
        unmatched: list[list[str]] = []
        for _, group in town_groups:
            towns = self._towns(group, region)
            if not towns or (towns[0][0] < 1.0 and self._squares(group, None, exact=True)):
                unmatched.append(group)  # a typo'd town loses to a square's exact name
                continue
            if best is None or towns[0][0] > best[0]:
                best, runners_up = towns[0], towns[1:]
        if best is None:
            # No comma between town and the rest ("Minsk Oktyabrskaya", "ул Ленина Пинск"):
            # a town named exactly at either end of a part.
            for group in [*unmatched, *square_groups, *street_groups]:
                found = self._town_at_an_end(group, region)
                if found:
                    (best, runners_up), rest = found
                    for groups in (unmatched, square_groups):
                        if group in groups:
                            groups[groups.index(group)] = rest
                    break
        # Words that named no town may be a square's short name: "Kastrychnitskaya".
        square_groups += unmatched

        if best is not None:
            score, town, matched = best
            for group in square_groups:
                squares = self._squares(group, town)
                if squares:
                    square_score, square = squares[0]
                    return self._answer(
                        query, "square", town, square, score * square_score, square.name_be, ()
                    )
            alternatives = tuple(
                Candidate("town", p, None, s, n) for s, p, n in runners_up if s >= score - 0.1
            )[:5]
            confidence = score
            if alternatives and not region and alternatives[0].confidence >= score:
                confidence = score * 0.8  # a tie: the larger town won, but say so
            if street_groups or square_groups:
                return self._answer(query, "approximate", town, None, confidence * 0.6, matched, ())
            return self._answer(query, "town", town, None, confidence, matched, alternatives)

        for group in square_groups:
            squares = self._squares(group, None)
            if squares:
                square_score, square = squares[0]
                if region and not compatible(square.town.region, region):
                    continue
                # A name several towns' squares share ("Плошча Леніна") says no town by itself:
                # the larger town's square wins, at half confidence, and the others are listed
                # (towns whose square has no known point as the town itself, to pin there).
                known = {q.town.geonameid for _, q in squares}
                elsewhere = list(
                    dict.fromkeys(
                        t for _, q in squares for t in q.also_in if t.geonameid not in known
                    )
                )
                ambiguous = 0.5 if len(squares) > 1 or elsewhere else 1.0
                others = (
                    *(
                        Candidate("square", q.town, q, round(s * ambiguous, 2), q.name_be)
                        for s, q in squares[1:]
                        if q is not square
                    ),
                    *(
                        Candidate(
                            "approximate",
                            t,
                            None,
                            round(square_score * ambiguous * 0.6, 2),
                            square.name_be,
                        )
                        for t in elsewhere
                    ),
                )[:5]
                confidence = square_score * ambiguous
                return self._answer(
                    query, "square", square.town, square, confidence, square.name_be, others
                )
        return None

    def _answer(
        self,
        query: str,
        kind: str,
        town: Place,
        square: Square | None,
        confidence: float,
        matched: str,
        alternatives: tuple[Candidate, ...],
    ) -> Match:
        return Match(
            kind=kind,
            place=town,
            square=square,
            confidence=round(max(0.0, min(confidence, 1.0)), 2),
            matched=matched,
            query=query,
            alternatives=alternatives,
        )
