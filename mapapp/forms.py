"""Forms (Flask-WTF: CSRF on every one). Labels and messages are translatable."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from mapapp.i18n import MINSK
from mapapp.models import utcnow

# Control characters (NUL and the like) have no place in a rally's text; newlines and
# tabs are fine in the description.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\t]")


def plain_line(form, field) -> None:  # noqa: ANN001
    if field.data and (_CONTROL.search(field.data) or _LINE_BREAKS.search(field.data)):
        raise ValidationError(_l("Use plain text on one line."))


def plain_text(form, field) -> None:  # noqa: ANN001
    if field.data and _CONTROL.search(field.data):
        raise ValidationError(_l("This text contains characters that are not allowed."))


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class RallyForm(FlaskForm):
    title = StringField(
        _l("Title"),
        [InputRequired(_l("Give the rally a title.")), Length(5, 120), plain_line],
        filters=[strip],
        description=_l("5 to 120 characters, for example: Solidarity with political prisoners"),
    )
    town = StringField(
        _l("Town"),
        [InputRequired(_l("Name the town.")), Length(max=120), plain_line],
        filters=[strip],
        description=_l("In any spelling: Гродна, Гродно, Hrodna"),
    )
    place = StringField(
        _l("Place"),
        [Optional(), Length(max=200), plain_line],
        filters=[strip],
        description=_l("A square or a street, for example: Савецкая плошча"),
    )
    date = DateField(_l("Date"), [InputRequired(_l("Give the date."))])
    time = TimeField(
        _l("Time"),
        [InputRequired(_l("Give the time."))],
        description=_l("Minsk time"),
    )
    description = TextAreaField(
        _l("Description"),
        [Optional(), Length(max=2000), plain_text],
        filters=[strip],
        description=_l(
            "What people should know: what to bring, how to find you. Up to 2000 characters."
        ),
    )
    contact = StringField(
        _l("Contact for moderators (optional)"),
        [Optional(), Length(max=200), plain_line],
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
    website = StringField(_l("Leave this field empty"), [Optional(), Length(max=200)])
    lat = HiddenField()
    lon = HiddenField()
    geonameid = HiddenField()

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
        if starts_at > now + timedelta(days=366):
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

    def show_reveal(self, reveal_at: datetime | None) -> None:
        """Fill the reveal fields from a stored time (the manage and moderation pages)."""
        if reveal_at is None:
            self.reveal.data = "now"
            return
        local = reveal_at.astimezone(MINSK)
        self.reveal.data = "at"
        self.reveal_date.data, self.reveal_time.data = local.date(), local.time()

    def validate_reveal(self, field) -> None:  # noqa: ANN001
        if field.data != "at":
            return
        if not (self.reveal_date.data and self.reveal_time.data):
            raise ValidationError(_l("Give the date and time to show the place."))
        starts_at = self.starts_at()
        moment = datetime.combine(self.reveal_date.data, self.reveal_time.data, MINSK)
        if starts_at is not None and moment > starts_at:
            raise ValidationError(_l("The place must be shown before the rally starts."))

    def point(self) -> tuple[float, float] | None:
        """The pin from the preview, if it came back as two numbers."""
        try:
            lat, lon = float(self.lat.data), float(self.lon.data)
        except (TypeError, ValueError):
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        return lat, lon


class RejectForm(FlaskForm):
    reason = StringField(
        _l("Reason"),
        [InputRequired(_l("Say why, for the record.")), Length(max=300), plain_line],
        filters=[strip],
    )


class ActionForm(FlaskForm):
    """A form with only its CSRF token: approve, cancel, log out."""


class LoginForm(FlaskForm):
    name = StringField(_l("Name"), [InputRequired(), Length(max=80)], filters=[strip])
    password = PasswordField(_l("Password"), [InputRequired(), Length(max=200)])
