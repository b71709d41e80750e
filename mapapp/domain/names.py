"""A rally's town in a language: the gazetteer's name for its place, as written if not there."""

from __future__ import annotations

from typing import Protocol

from mapapp.domain.geocoding import gazetteer


class HasTown(Protocol):
    geonameid: int | None
    town: str


def town_name(rally: HasTown, lang: str) -> str:
    """The rally's town in `lang` (be, ru, en), from the gazetteer by its GeoNames id.

    A rally (stored or public) whose town is not in the gazetteer keeps the name it was
    written with.
    """
    place = gazetteer().by_id(rally.geonameid) if rally.geonameid is not None else None
    return place.name_in(lang) if place else rally.town
