"""Rallies that come with the product: the seed file in data/, and synthetic demo data."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mapapp.domain import lifecycle
from mapapp.domain.models import Rally, Status, utcnow
from mapapp.paths import DATA_DIR
from mapapp.places.locale import MINSK
from mapapp.places.search import Gazetteer

SEED_FILE = DATA_DIR / "seed_rallies.json"
MONTHS = "january february march april may june july august september october november december"


def next_occurrence(day_and_time: str, now: datetime) -> datetime:
    """'21 October, 19:00, Europe/Minsk' -> the next such moment after now (aware, Minsk)."""
    match = re.fullmatch(r"\s*(\d{1,2}) (\w+), (\d{1,2}):(\d{2}), Europe/Minsk\s*", day_and_time)
    if not match:
        raise ValueError(f"cannot read the date {day_and_time!r}")
    day, month_name, hour, minute = match.groups()
    month = MONTHS.split().index(month_name.lower()) + 1
    year = now.astimezone(MINSK).year
    while True:
        moment = datetime(year, month, int(day), int(hour), int(minute), tzinfo=MINSK)
        if moment > now:
            return moment
        year += 1


def load_seed(
    db: Session, gazetteer: Gazetteer, now: datetime | None = None, path: Path = SEED_FILE
) -> int:
    """Add the seed rallies not yet in the database; returns how many were added.

    Rallies already loaded are left as they are, so running it again changes nothing.
    """
    now = now or utcnow()
    document = json.loads(path.read_text(encoding="utf-8"))
    present = set(db.scalars(select(Rally.seed_key).where(Rally.seed_key.is_not(None))))
    added: list[Rally] = []
    for entry in document["rallies"]:
        if entry["key"] in present:
            continue
        town = gazetteer.by_id(entry["geonameid"])
        if town is None:
            raise ValueError(f"seed {entry['key']}: no place {entry['geonameid']} in the gazetteer")
        starts_at = next_occurrence(entry["starts"], now)
        added.append(
            Rally(
                seed_key=entry["key"],
                title=entry["title"],
                description=entry["description"],
                town=town.name_be,
                place=entry["place"],
                region=town.region,
                geonameid=town.geonameid,
                # Where no source gives the square, the town's own point (never an invented one).
                lat=entry.get("lat", town.lat),
                lon=entry.get("lon", town.lon),
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=2),
                status=Status.APPROVED.value,
                featured=entry.get("featured", False),
            )
        )
    if added:
        lifecycle.publish_many(db, added, actor="seed")
    db.commit()
    return len(added)


# The seed's texts a language shows (data/seed_rallies.json "texts"): stored rallies keep the
# Belarusian ones; a Russian or English page shows these while a seed rally keeps the seed's
# own text (an edit by a moderator is shown as written). A seed rally is known by its town
# and its title or description: an organizer's rally that names the same square keeps its
# words.
SEED_FIELDS = ("title", "place", "description")


@cache
def seed_translations(path: Path = SEED_FILE) -> dict[int, list[dict[str, dict[str, str]]]]:
    """GeoNames id -> its seed rallies' texts: field -> language (be, ru, en) -> text."""
    document = json.loads(path.read_text(encoding="utf-8"))
    found: dict[int, list[dict[str, dict[str, str]]]] = {}
    for entry in document["rallies"]:
        texts = {field: {"be": entry[field]} for field in SEED_FIELDS}
        for lang, given in entry.get("texts", {}).items():
            for field in SEED_FIELDS:
                texts[field][lang] = given[field]
        found.setdefault(entry["geonameid"], []).append(texts)
    return found


def seed_texts(
    geonameid: int | None, title: str, place: str | None, description: str, lang: str
) -> dict[str, str | None]:
    """A rally's title, place and description in `lang`: those of a seed rally (its town
    and its title or description the seed's) in that language where they are still the
    seed's own; any other text as it is."""
    texts = {"title": title, "place": place, "description": description}
    for entry in seed_translations().get(geonameid, []) if geonameid is not None else []:
        if title == entry["title"]["be"] or description == entry["description"]["be"]:
            return {
                field: entry[field].get(lang, value) if value == entry[field]["be"] else value
                for field, value in texts.items()
            }
    return texts


DEMO_TITLES = [
    "{town}: пікет за вызваленне палітвязняў",
    "{town}: ланцуг салідарнасці з вязнямі",
    "{town}: вечар лістоў палітвязням",
    "{town}: акцыя памяці і салідарнасці",
    "{town}: збор подпісаў за вызваленне",
    "{town}: пикет в поддержку политзаключённых",
    "{town}: цепь солидарности с заключёнными",
    "{town}: вечер писем политзаключённым",
    "{town}: акция за освобождение узников",
]
DEMO_PLACES = [
    "Цэнтральная плошча",
    "Плошча Леніна",
    "Плошча Свабоды",
    "Каля Палаца культуры",
    "Гарадскі парк, галоўны ўваход",
    "Центральная площадь",
    "Площадь Ленина",
    "У Дома культуры",
    "Сквер у ратуши",
]
DEMO_SENTENCES = [
    "Збіраемся мірна, з плакатамі і партрэтамі палітвязняў.",
    "Прыносьце паштоўкі: падпішам іх і адправім у калоніі.",
    "Патрабуем вызваліць усіх палітычных вязняў і спыніць катаванні.",
    "Просім не браць з сабой сцягоў партый: гэта агульная акцыя.",
    "Собираемся мирно, с плакатами и портретами политзаключённых.",
    "Приносите открытки: подпишем их и отправим в колонии.",
    "Требуем освободить всех политических заключённых и прекратить пытки.",
    "Будем стоять час, потом вместе пойдём к памятнику.",
]


def demo_rallies(
    gazetteer: Gazetteer, count: int, seed: int | None = None, now: datetime | None = None
) -> list[Rally]:
    """Synthetic approved rallies over real towns, half a year either side of now."""
    rng = random.Random(seed)
    now = now or utcnow()
    towns = gazetteer.places
    weights = [max(p.population, 1) ** 0.5 for p in towns]  # big towns more often, small ones too
    rallies = []
    for town in rng.choices(towns, weights=weights, k=count):
        day = now.astimezone(MINSK).date() + timedelta(days=rng.randint(-180, 180))
        starts_at = datetime(
            day.year, day.month, day.day, rng.randint(11, 20), rng.choice((0, 30)), tzinfo=MINSK
        )
        russian = rng.random() < 0.4
        title = rng.choice(DEMO_TITLES[5:] if russian else DEMO_TITLES[:5])
        sentences = DEMO_SENTENCES[4:] if russian else DEMO_SENTENCES[:4]
        rallies.append(
            Rally(
                title=title.format(town=town.name_ru if russian else town.name_be),
                description=" ".join(rng.sample(sentences, 3)),
                town=town.name_ru if russian else town.name_be,
                place=rng.choice(DEMO_PLACES[5:] if russian else DEMO_PLACES[:5]),
                region=town.region,
                geonameid=town.geonameid,
                # Within a few hundred metres of the town's point, so markers don't stack.
                lat=round(town.lat + rng.uniform(-0.004, 0.004), 6),
                lon=round(town.lon + rng.uniform(-0.006, 0.006), 6),
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=rng.choice((1, 2, 3))),
                status=Status.APPROVED.value,
            )
        )
    return rallies
