"""The one place that turns a rally's status or change into words, in a language.

Every output (pages, feeds, calendars, the map, Telegram) takes its sentences from here, so a
danger warning reads the same everywhere. `lang` is be, ru or en.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from flask_babel import force_locale, gettext

from mapapp.places.locale import local_datetime
from mapapp.publishing.public import PublicRally, verification


def reveal_sentence(reveal_at: datetime, lang: str) -> str:
    """ "The exact place will be announced at <Minsk time>", in `lang`."""
    when = local_datetime(reveal_at, "long", lang)
    with force_locale(lang):
        return gettext("The exact place will be announced at %(time)s Minsk time.", time=when)


# The fixed sentences are kept once made, as mapapp.places.locale keeps dates: every rally's
# parts say them in three languages (force_locale parses its locale each time: most of the
# cost of `flask prepare-parts` was here). The catalogues are read once a process anyway.
@lru_cache(maxsize=64)
def status_sentence(status: str, lang: str) -> str:
    """The fixed, translated sentence an urgent status shows ("" for approved)."""
    with force_locale(lang):
        sentences = {
            "danger": gettext("Danger: police are at the place. Do not come."),
            "moved": gettext("The place has changed: check the new place before you go."),
            "cancelled": gettext("This rally is cancelled."),
        }
    return sentences.get(status, "")


def verification_sentence(rally: object, lang: str) -> str:
    """How a public rally was checked (mapapp.publishing.public.verification), in `lang`."""
    return _verification_words(verification(rally), getattr(rally, "checked_by", 2), lang)


@lru_cache(maxsize=256)
def _verification_words(grade: str, count: int, lang: str) -> str:
    with force_locale(lang):
        if grade == "moderators":
            return gettext("Checked by %(count)d moderators.", count=count)
        if grade == "known-organizer":
            return gettext("Organizer known to the moderators; checked by one moderator.")
        if grade == "moderator":
            return gettext("Checked by one moderator.")
        return gettext("Imported by the site's operators, not checked by a moderator here.")


def rescheduled_sentence(previous: datetime, lang: str) -> str:
    """ "The time has changed: it was <the old Minsk time>", in `lang`."""
    when = local_datetime(previous, "medium", lang)
    with force_locale(lang):
        return gettext("The time has changed: it was %(time)s.", time=when)


# The statuses whose sentence leads every output's title (approved says nothing).
URGENT = ("cancelled", "danger", "moved")


def headline(rally: PublicRally, lang: str) -> str:
    """The sentence that leads a rally's title in every output (ICS SUMMARY, JSON-LD name and
    description, OpenGraph, oEmbed, the share image's band, Telegram): its urgent status, else
    a time change with the old time, else "" (nothing to warn of)."""
    if rally.status in URGENT:
        return status_sentence(rally.status, lang)
    previous = getattr(rally, "previous_starts_at", None)
    if previous is not None and previous != rally.starts_at:
        return rescheduled_sentence(previous, lang)
    return ""


def headed_title(rally: PublicRally, lang: str) -> str:
    """The rally's title led by its headline, if any."""
    lead = headline(rally, lang)
    return f"{lead} {rally.title}" if lead else rally.title


def calendar_headline(rally: PublicRally, lang: str) -> str:
    """What leads a rally's title where only the title is seen (a calendar's SUMMARY, a
    spreadsheet's notice): the headline, else, once a hidden place has been revealed, "The
    place is announced." (calendars kept "the town only" and show no description), else ""."""
    lead = headline(rally, lang)
    if lead or not (rally.exact and rally.reveal_at is not None):
        return lead
    with force_locale(lang):
        return gettext("The place is announced.")


def place_note(rally: PublicRally, lang: str) -> str:
    """For an unrevealed place, when it will be announced; else "" (a cancelled rally's
    place will not be announced)."""
    if rally.exact or rally.reveal_at is None or rally.status == "cancelled":
        return ""
    return reveal_sentence(rally.reveal_at, lang)


def feed_notes(lang: str) -> Callable[[PublicRally], tuple[str, str, str]]:
    """For calendars and spreadsheets: the headline (cancelled, danger, moved, rescheduled,
    revealed: calendar_headline) first in SUMMARY, for an unrevealed place when it will be
    announced first in DESCRIPTION, and how the rally was checked after the description
    (mapapp.publishing.ics.Notes)."""

    def notes(rally: PublicRally) -> tuple[str, str, str]:
        return (
            calendar_headline(rally, lang),
            place_note(rally, lang),
            verification_sentence(rally, lang),
        )

    return notes


def time_change_sentence(previous: datetime, starts_at: datetime, lang: str) -> str:
    """ "The time has changed: <new Minsk time> (was <old>)", in `lang`."""
    new, old = local_datetime(starts_at, "long", lang), local_datetime(previous, "long", lang)
    with force_locale(lang):
        return gettext("The time has changed: %(time)s (was %(previous)s).", time=new, previous=old)


def revealed_sentence(place: str, lang: str) -> str:
    """ "The exact place is announced: <place>", in `lang`."""
    with force_locale(lang):
        return gettext("The exact place is announced: %(place)s.", place=place)
