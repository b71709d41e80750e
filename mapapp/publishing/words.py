"""The one place that turns a rally's status or change into words, in a language.

Every output (pages, feeds, calendars, the map, Telegram) takes its sentences from here, so a
danger warning reads the same everywhere. `lang` is be, ru or en.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask_babel import force_locale, gettext

from mapapp.places.locale import local_datetime
from mapapp.publishing.public import PublicRally, verification


def reveal_sentence(reveal_at: datetime, lang: str) -> str:
    """ "The exact place will be announced at <Minsk time>", in `lang`."""
    when = local_datetime(reveal_at, "long", lang)
    with force_locale(lang):
        return gettext("The exact place will be announced at %(time)s.", time=when)


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
    grade = verification(rally)
    with force_locale(lang):
        if grade == "moderators":
            return gettext(
                "Checked by %(count)d moderators.", count=getattr(rally, "checked_by", 2)
            )
        if grade == "known-organizer":
            return gettext("Organizer known to the moderators; checked by one moderator.")
        if grade == "moderator":
            return gettext("Checked by one moderator.")
        return gettext("Imported by the site's operators, not checked by a moderator here.")


def feed_notes(lang: str) -> Callable[[PublicRally], tuple[str, str, str]]:
    """For calendars: the danger or moved warning first in SUMMARY, first in DESCRIPTION
    when an unrevealed place will be announced, and how the rally was checked after the
    description (mapapp.publishing.ics.Notes)."""

    def notes(rally: PublicRally) -> tuple[str, str, str]:
        warning = status_sentence(rally.status, lang) if rally.status in ("danger", "moved") else ""
        note = "" if rally.exact else reveal_sentence(rally.reveal_at, lang)
        return warning, note, verification_sentence(rally, lang)

    return notes


def rescheduled_sentence(previous: datetime, starts_at: datetime, lang: str) -> str:
    """ "The time has changed: <new Minsk time> (was <old>)", in `lang`."""
    new, old = local_datetime(starts_at, "long", lang), local_datetime(previous, "long", lang)
    with force_locale(lang):
        return gettext("The time has changed: %(time)s (was %(previous)s).", time=new, previous=old)


def revealed_sentence(place: str, lang: str) -> str:
    """ "The exact place is announced: <place>", in `lang`."""
    with force_locale(lang):
        return gettext("The exact place is announced: %(place)s.", place=place)
