"""Belarus's regions: ISO 3166-2 codes, names in three languages, and the stems that name them
in what people type (facts/belarus.md). Pure: no Flask."""

from __future__ import annotations

from collections.abc import Iterable

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


_REGION_STEMS = {
    "BY-BR": ("брест", "брэст", "brest", "bresc", "berest"),
    "BY-HO": ("гомел", "homel", "homiel", "homyel", "gomel"),
    "BY-HR": ("гродн", "гродз", "hrodn", "hrodz", "grodn", "hrodzien"),
    "BY-MI": ("минск", "minsk", "minsc"),
    "BY-MA": ("могил", "магил", "mogil", "mahil", "magil"),
    "BY-VI": ("витеб", "вицеб", "viteb", "vicieb", "vitsyeb", "vitseb", "witeb"),
}


def region_in(words: Iterable[str]) -> str | None:
    for word in words:
        for code, stems in _REGION_STEMS.items():
            if word.startswith(stems):
                return code
    return None


def compatible(region: str | None, wanted: str | None) -> bool:
    """Minsk City lies inside Minsk Region: "Minsk, Minsk Region" means the city."""
    if wanted is None or region == wanted:
        return True
    return {region, wanted} == {"BY-HM", "BY-MI"}
