"""Forms (Flask-WTF: CSRF on every one). Labels and messages are translatable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from mapapp.domain import reports, rules
from mapapp.domain.geocoding import gazetteer, geocode
from mapapp.domain.models import utcnow
from mapapp.places.index import distance_km
from mapapp.places.locale import MINSK
from mapapp.places.regions import compatible
from mapapp.publishing.public import MAX_ID
from mapapp.web.i18n import current_language, region_name

# The form's words for the shared rules' problems (mapapp.domain.rules), in the page's language.
PROBLEM_MESSAGES = {
    rules.LINE_BREAK: _l("Use plain text on one line."),
    rules.CONTROL: _l("This text contains characters that are not allowed."),
    rules.DIRECTION: _l("Remove the invisible characters that change the direction of text."),
    rules.FORMAT: _l("Remove the invisible formatting characters from this text."),
}

# Flask-WTF's CSRF protection, one for the app (init_app in create_app).
csrf = CSRFProtect()

# A pin left this close to the named town keeps that town's name; further away, the
# town under the pin is taken (the organizer moved it to another place).
SAME_TOWN_KM = 10.0


AT_MOST = _l("At most %(max)d characters, please (now %(length)d).")
REQUIRED = _l("Fill in this field.")


def plain_line(form, field) -> None:  # noqa: ANN001
    """One line of text without control or invisible format characters."""
    problem = rules.text_problem(field.data, one_line=True) if field.data else None
    if problem:
        raise ValidationError(PROBLEM_MESSAGES[problem])


def plain_text(form, field) -> None:  # noqa: ANN001
    """Text (line breaks allowed) without control or invisible format characters."""
    problem = rules.text_problem(field.data, one_line=False) if field.data else None
    if problem:
        raise ValidationError(PROBLEM_MESSAGES[problem])


def rally_text(name: str) -> list:
    """The validators of rally field `name`, from the shared rules (length and characters)."""
    rule = rules.RALLY_TEXT[name]
    if rule.min_length > 1:
        length = Length(
            rule.min_length,
            rule.max_length,
            _l("Between %(min)d and %(max)d characters, please (now %(length)d)."),
        )
    else:
        length = Length(max=rule.max_length, message=AT_MOST)
    return [length, plain_line if rule.one_line else plain_text]


def strip(value: str | None) -> str | None:
    """Text as people read it: NFC (decomposed letters joined), no surrounding space."""
    return rules.normalise(value)


class CatalogueTranslations:
    """WTForms' own messages from our catalogues, in the page's language.

    WTForms has no Belarusian, and its Russian is worded its own way: every message a
    person can see comes from mapapp/translations (LIBRARY_MESSAGES lists WTForms' ones).
    """

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


# What WTForms itself says for our fields (a date or a time it cannot read), so that
# `make translations` keeps them in our catalogues; every validator has our own message.
LIBRARY_MESSAGES = (_l("Not a valid date value."), _l("Not a valid time value."))


class Form(FlaskForm):
    """Every form of the app: messages in the page's language, from our catalogues."""

    class Meta:
        def get_translations(self, form) -> CatalogueTranslations:  # noqa: ANN001
            return CatalogueTranslations()


class RallyForm(Form):
    title = StringField(
        _l("Title"),
        [InputRequired(_l("Give the rally a title.")), *rally_text("title")],
        filters=[strip],
        description=_l("5 to 120 characters, for example: Solidarity with political prisoners"),
    )
    town = StringField(
        _l("Town"),
        [InputRequired(_l("Name the town.")), *rally_text("town")],
        filters=[strip],
        description=_l("In any spelling: Гродна, Гродно, Hrodna"),
    )
    place = StringField(
        _l("Place"),
        [Optional(), *rally_text("place")],
        filters=[strip],
        description=_l(
            "A square or a street, for example: Савецкая плошча. In a village our list lacks,"
            " its name first: Ратомка, ля крамы"
        ),
    )
    # Browsers send 2026-12-25 and 19:00; typed by hand (no date picker) 25.12.2026 and 19.00.
    date = DateField(
        _l("Date"), [InputRequired(_l("Give the date."))], format=["%Y-%m-%d", "%d.%m.%Y"]
    )
    time = TimeField(
        _l("Time"),
        [InputRequired(_l("Give the time."))],
        format=["%H:%M", "%H.%M", "%H:%M:%S"],
        description=_l("Minsk time"),
    )
    description = TextAreaField(
        _l("Description"),
        [Optional(), *rally_text("description")],
        filters=[strip],
        description=_l(
            "What people should know, for example what to bring. Everyone sees the title and"
            " the description at once, even while the exact place is hidden: do not say here"
            " where to meet. Up to 2000 characters."
        ),
    )
    contact = StringField(
        _l("Contact for moderators (optional)"),
        [Optional(), *rally_text("contact")],
        filters=[strip],
        description=_l(
            "Only moderators see it, to ask you about the rally. It is deleted a week after the event."
        ),
    )
    # When the exact place becomes public (issue: staged disclosure). Until then the public
    # sees the town only. Offsets are turned into a time when the form is saved.
    reveal = SelectField(
        _l("When to show the exact place"),
        choices=[
            SelectChoice("now", _l("Now")),
            SelectChoice("1", _l("1 hour before the start")),
            SelectChoice("2", _l("2 hours before the start")),
            SelectChoice("6", _l("6 hours before the start")),
            SelectChoice("24", _l("24 hours before the start")),
            SelectChoice("at", _l("At a time I choose")),
        ],
        default="now",
        description=_l(
            "Until then everyone sees only the town, so the police cannot be there first."
        ),
    )
    reveal_date = DateField(_l("Date to show the place"), [Optional()])
    reveal_time = TimeField(
        _l("Time to show the place"), [Optional()], description=_l("Minsk time")
    )
    # Left empty by people; bots that fill every field give themselves away.
    website = StringField(
        _l("Leave this field empty"), [Optional(), Length(max=200, message=AT_MOST)]
    )
    lat = HiddenField()
    lon = HiddenField()
    geonameid = HiddenField()
    # The places a town's name may mean, when the answer was a guess (locate).
    town_choices: list[dict[str, Any]] = []

    def starts_at(self) -> datetime | None:
        if not (self.date.data and self.time.data):
            return None
        return datetime.combine(self.date.data, self.time.data, MINSK)

    def validate_date(self, field) -> None:  # noqa: ANN001
        starts_at = self.starts_at()
        if starts_at is None:
            return
        now = utcnow()
        if starts_at <= now:
            raise ValidationError(_l("The date and time must be in the future."))
        if rules.start_problem(starts_at, now) is not None:
            raise ValidationError(_l("The date must be within a year from today."))

    def reveal_at(self) -> datetime | None:
        """When the exact place becomes public (aware), or None for "now"."""
        starts_at = self.starts_at()
        choice = self.reveal.data or "now"
        if choice == "now" or starts_at is None:
            return None
        if choice == "at":
            if not (self.reveal_date.data and self.reveal_time.data):
                return None
            moment = datetime.combine(self.reveal_date.data, self.reveal_time.data, MINSK)
        else:
            moment = starts_at - timedelta(hours=int(choice))
        return moment if moment > utcnow() else None  # a time already past: now

    def reveal_before(self) -> timedelta | None:
        """The reveal choice as "this long before the start", or None (now, or a time of
        one's own): it counts from the start the public sees (lifecycle.public_reveal)."""
        choice = self.reveal.data or "now"
        return timedelta(hours=int(choice)) if choice.isdigit() else None

    def note_place_shown(self) -> None:
        """Say beside the reveal choice that the place is public already and stays so
        (mapapp.domain.lifecycle.place_was_shown): the manage and moderation pages."""
        self.reveal.description = _l(
            "The place is public already, so it cannot be hidden again. To meet somewhere else,"
            " change the place: the new place can stay hidden until the time you choose."
        )

    def show_reveal(self, reveal_at: datetime | None) -> None:
        """Fill the reveal fields from a stored time (the manage and moderation pages).

        Call after the date and time are filled: a reveal time that is one of the offered
        "N hours before the start" comes back as that choice, so that moving the start moves
        the reveal with it, as the organizer chose; any other time comes back as itself.
        """
        if reveal_at is None or reveal_at <= utcnow():  # already shown: it stays shown
            self.reveal.data = "now"
            return
        local = reveal_at.astimezone(MINSK)
        starts_at = self.starts_at()
        before = (starts_at - reveal_at) if starts_at is not None else None
        offered = {value for value, *_ in self.reveal.choices if value.isdigit()}
        if before is not None and before % timedelta(hours=1) == timedelta(0):
            hours = str(before // timedelta(hours=1))
            if hours in offered:
                self.reveal.data = hours
                return
        # Only the choice that uses them fills the date and time (else they would be ignored).
        self.reveal_date.data, self.reveal_time.data = local.date(), local.time()
        self.reveal.data = "at"

    def validate_reveal(self, field) -> None:  # noqa: ANN001
        if field.data == "now" and (self.reveal_date.data or self.reveal_time.data):
            # A time typed while "Now" is chosen would be dropped and the place public at once.
            raise ValidationError(
                _l(
                    "You gave a date or time to show the place, but chose to show it now."
                    " Choose “At a time I choose”, or clear the date and time."
                )
            )
        if field.data == "now":
            return
        starts_at = self.starts_at()
        if field.data == "at":
            if not (self.reveal_date.data and self.reveal_time.data):
                raise ValidationError(_l("Give the date and time to show the place."))
            moment = datetime.combine(self.reveal_date.data, self.reveal_time.data, MINSK)
            if starts_at is not None and moment > starts_at:
                raise ValidationError(_l("The place must be shown before the rally starts."))
        elif starts_at is not None:
            if not str(field.data).isdigit():  # a forged form: the choice's check said so
                return
            moment = starts_at - timedelta(hours=int(field.data))
        else:
            return
        if moment <= utcnow():
            # reveal_at() would take a moment already past as "now": the place public at once.
            raise ValidationError(
                _l(
                    "This moment has already passed, so the place would be public at once."
                    " Choose a later moment, or “Now” if that is what you want."
                )
            )

    def locating_hints(self) -> list[str]:
        """Words of the title and description that may give a hidden place away (empty if the
        place is shown at once)."""
        if self.reveal_at() is None:
            return []
        return rules.locating_hints(self.description.data, self.place.data, self.title.data)

    def point(self) -> tuple[float, float] | None:
        """The pin from the preview, if it came back as two numbers."""
        try:
            lat, lon = float(self.lat.data), float(self.lon.data)
        except (TypeError, ValueError):
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        return lat, lon


class RejectForm(Form):
    reason = StringField(
        _l("Reason"),
        [
            # After the strip filter: a reason of spaces is no reason.
            DataRequired(_l("Say why, for the record.")),
            Length(max=300, message=AT_MOST),
            plain_line,
        ],
        filters=[strip],
    )


class BulkForm(Form):
    """The queue's several rallies at once: approve them, or reject them with one reason."""

    ids = SelectMultipleField(
        _l("Rallies"),
        [InputRequired(_l("Select at least one rally."))],
        coerce=int,
        validate_choice=False,
    )
    decision = StringField(_l("Decision"))
    reason = StringField(
        _l("Reason (for a rejection)"),
        [Length(max=300, message=AT_MOST), plain_line],
        filters=[strip],
    )

    def validate_ids(self, field) -> None:  # noqa: ANN001
        # A number past the database's integer (a forged form) selects no rally: it made
        # SQLite raise OverflowError and PostgreSQL "out of range", a 500.
        if any(not 1 <= number <= MAX_ID for number in field.data or []):
            raise ValidationError(_("Select at least one rally."))

    def validate_decision(self, field) -> None:  # noqa: ANN001
        if field.data not in ("approve", "reject"):
            raise ValidationError(_("Choose to approve or to reject."))

    def validate_reason(self, field) -> None:  # noqa: ANN001
        if self.decision.data == "reject" and not field.data:
            raise ValidationError(_("Say why, for the record."))


class ActionForm(Form):
    """A form with only its CSRF token: approve, cancel, log out."""


class CancelForm(Form):
    """The organizer's cancel: a ticked box, so one stray tap on a phone cancels nothing."""

    confirm = BooleanField(
        _l("Yes, cancel it. This cannot be undone."),
        [DataRequired(_l("Tick the box to confirm that the rally is cancelled."))],
    )


class DangerForm(Form):
    """The organizer's danger warning: a ticked box that says it cannot be taken back by them."""

    confirm = BooleanField(
        _l("Yes, warn everyone not to come. Only a moderator can lift this warning."),
        [DataRequired(_l("Tick the box to confirm the warning."))],
    )


class ModeratorDangerForm(Form):
    """A moderator's danger warning: a ticked box (checked by the server), so that one tap
    beside "Mark as moved" warns nobody away; the page says beforehand who can lift it."""

    confirm = BooleanField(
        _l("Yes, warn everyone not to come."),
        [DataRequired(_l("Tick the box to confirm the warning."))],
    )


class LoginForm(Form):
    name = StringField(
        _l("Name"), [InputRequired(REQUIRED), Length(max=80, message=AT_MOST)], filters=[strip]
    )
    password = PasswordField(
        _l("Password"), [InputRequired(REQUIRED), Length(max=200, message=AT_MOST)]
    )


class CodeForm(Form):
    """The second factor: six digits from the authenticator app, or a recovery code."""

    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        [InputRequired(REQUIRED), Length(max=60, message=AT_MOST)],
        filters=[strip],
    )


class SuspendForm(Form):
    """Propose or confirm suspending a moderator, reverting their last `hours` hours."""

    hours = IntegerField(
        _l("Revert their actions of the last hours (0: none)"),
        [InputRequired(REQUIRED), NumberRange(0, 168, _l("A number from 0 to 168, please."))],
        default=24,
    )


class ReportForm(Form):
    """A visitor's report on a rally: a fixed reason and an optional short text."""

    reason = RadioField(
        _l("What is wrong?"),
        [InputRequired(_l("Choose what is wrong."))],
        choices=[SelectChoice(code, label) for code, label in reports.REASONS.items()],
    )
    text = TextAreaField(
        _l("Anything to add (optional)"),
        [Length(max=reports.TEXT_LIMIT, message=AT_MOST), plain_text],
        filters=[strip],
        description=_l(
            "At most 280 characters. Do not write your name, phone or anything about yourself."
        ),
    )


# Below this a gazetteer's town answer is a guess (a typo forgiven, or a tie between places
# of one name): the organizer chooses among the places, each with its region, or types another.
SURE = 0.9
# Fewer people than this: a village, whose name many other villages share.
VILLAGE = 1000


def NOT_LISTED() -> str:  # noqa: N802 (a message, as the constants beside it)
    """What to do when the town field names no place in the gazetteer.

    The list (data/places.json, GeoNames' cities500) has the towns and only some villages:
    GeoNames knows the population of few Belarusian villages, so many of hundreds or
    thousands of people are missing (Ратомка, Прылукі, Цна). The way forward keeps the
    village's name where the public sees it: in the field "Place", which pages, feeds and
    calendars show before the town ("Ратомка, Мінск")."""
    return _(
        "Our list has the towns and only some villages. If your village is missing, type"
        " the nearest town here, write the village's name at the start of the field “Place”"
        " (everyone sees it before the town's name once the place is shown) and drag the pin"
        " to the village on the next step."
    )


def locate(form: RallyForm, pick: str | None = None) -> dict[str, Any] | None:
    """Geocode town and place; put an error on the form when nothing fits.

    Returns the geocoder's answer (lat, lon, name, town, region, kind, geonameid...) with
    `village`: True when a village of under VILLAGE people was taken from what was typed.

    `pick`: the geonameid of a place the organizer chose among `form.town_choices` (a
    previous answer). A guess is never taken silently: the choices go on the form.
    """
    lang = current_language()
    number = pick and pick.isascii() and pick.isdigit() and len(pick) <= 9  # not "²"
    chosen = gazetteer().by_id(int(pick)) if number else None
    if chosen is not None:
        form.town.data = chosen.name_in(lang)
        town = {
            "lat": chosen.lat,
            "lon": chosen.lon,
            "geonameid": chosen.geonameid,
            "name": chosen.name_in(lang),
            "town": chosen.name_in(lang),
            "region": chosen.region,
            "kind": "town",
        }
    else:
        town = geocode(form.town.data, lang)
        if "error" in town:
            form.town.errors.append(
                _("This town or village is not in our list: check the spelling.")
                + " "
                + NOT_LISTED()
            )
            return None
        # A region typed with the name ("Навасёлкі, Мінская вобласць") chooses among places of
        # one name: places elsewhere are not offered, and none there is said so.
        wanted = gazetteer().region_named(form.town.data)
        if wanted and town.get("source") == "gazetteer":
            there = [
                t
                for t in [town, *town.get("alternatives", [])]
                if compatible(t.get("region"), wanted)
            ]
            if not there:
                form.town.errors.append(
                    _(
                        "Our list has no place of this name in %(region)s: check the spelling.",
                        region=region_name(wanted),
                    )
                    + " "
                    + NOT_LISTED()
                )
                return None
            if there[0] is not town:
                town = {**there[0], "source": "gazetteer", "alternatives": there[1:]}
        if town.get("source") == "gazetteer" and town.get("confidence", 1.0) < SURE:
            form.town_choices = [town, *town.get("alternatives", [])][:6]
            form.town.errors.append(
                _("We are not sure which place you mean. Choose it below (each with its region).")
                + " "
                + NOT_LISTED()
            )
            return None
    # A village of a few hundred people: Belarus has dozens of places of its name (Навасёлкі,
    # Слабада) and the list only some of them (NOT_LISTED); the preview says which one
    # this is and how to pin another (`village`).
    listed = gazetteer().by_id(int(town["geonameid"])) if town.get("geonameid") else None
    village = chosen is None and listed is not None and listed.population < VILLAGE
    if form.place.data:
        # The place only refines the town the organizer named: a square of the same name
        # in another town must not move the rally there.
        found = geocode(f"{form.place.data}, {town['town']}", lang)
        if "error" not in found and found.get("geonameid") == town.get("geonameid"):
            return {**found, "village": village}
    return {**town, "village": village}


def rally_fields(form: RallyForm, lat: float, lon: float, geonameid: int | None) -> dict[str, Any]:
    """What is stored, from a validated form and a point inside Belarus."""
    under_pin = gazetteer().reverse(lat, lon)
    town = gazetteer().by_id(geonameid) if geonameid else None
    if town is None or distance_km(lat, lon, town.lat, town.lon) > SAME_TOWN_KM:
        town = under_pin.place
    starts_at = form.starts_at()
    return {
        "title": form.title.data,
        "description": form.description.data or "",
        "town": town.name_be,
        "geonameid": town.geonameid,
        "place": form.place.data or "",
        # The town's region, not the pin's: the public sees a hidden rally's region, and near
        # a border the pin's region would tell which side its place is on.
        "region": town.region or under_pin.region,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "contact": (form.contact.data or None) if form.contact else None,
        "reveal_at": form.reveal_at(),
    }
