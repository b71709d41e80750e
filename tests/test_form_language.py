"""Every message a person can see, from any library, is ours and in the page's language."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from conftest import make_app
from flask_babel import LazyString
from test_submit import form
from wtforms.fields.core import UnboundField

from mapapp.places.locale import LANGUAGES
from mapapp.web import forms
from mapapp.web.i18n import TRANSLATIONS


def catalogue(lang: str):  # noqa: ANN201
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source)


def our_forms() -> list[type]:
    return [
        value
        for value in vars(forms).values()
        if isinstance(value, type) and issubclass(value, forms.Form) and value is not forms.Form
    ]


def test_every_validator_speaks_with_our_translated_message():
    for form_class in our_forms():
        for name, field in vars(form_class).items():
            if not isinstance(field, UnboundField):
                continue
            validators = field.kwargs.get("validators") or (field.args[1:2] or [[]])[0]
            for validator in validators:
                message = getattr(validator, "message", None)
                if type(validator).__name__ == "Optional":
                    continue  # says nothing
                if callable(validator) and not hasattr(validator, "message"):
                    continue  # our own functions, which raise our messages
                assert isinstance(message, LazyString), (form_class.__name__, name, validator)


def test_library_messages_are_in_every_catalogue():
    for lang in LANGUAGES:
        messages = catalogue(lang)
        for message in forms.LIBRARY_MESSAGES:
            entry = messages[message._args[0]]
            assert entry is not None and entry.string, (lang, message._args[0])


ERROR = re.compile(r'<p class="error" id="(\w+)-error">(.*?)</p>', re.S)
WTFORMS_WORDING = ("Field must", "Not a valid date value", "This field", "Длина поля", "Неверн")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_form_errors_are_in_the_pages_language(client, lang):
    response = client.post(
        f"/submit?lang={lang}",
        data=form(client, title="Акц", date="31.02.2026", time="25:00", contact="c" * 201),
    )
    assert response.status_code == 422
    errors = dict(ERROR.findall(response.get_data(as_text=True)))
    assert set(errors) == {"title", "date", "time", "contact"}
    messages = catalogue(lang)

    def said(msgid: str, **values: object) -> str:
        return messages[msgid].string % values

    assert errors["title"].strip() == said(
        "Between %(min)d and %(max)d characters, please (now %(length)d).", min=5, max=120, length=3
    )
    assert errors["date"].strip() == said("Not a valid date value.")
    assert errors["time"].strip() == said("Not a valid time value.")
    assert errors["contact"].strip() == said(
        "At most %(max)d characters, please (now %(length)d).", max=200, length=201
    )
    if lang != "en":
        for words in WTFORMS_WORDING:
            assert words not in str(errors), (lang, words)


def test_dates_as_people_write_them_are_read(client):
    response = client.post("/submit?lang=be", data=form(client, date="25.12.2099", time="19.00"))
    errors = dict(ERROR.findall(response.get_data(as_text=True)))
    assert "date" in errors and "25.12.2026" not in errors["date"]  # read, then too far ahead
    assert "time" not in errors


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_too_many_requests_page_is_in_the_pages_language(sqlite_url, lang):
    app = make_app(sqlite_url, SUBMIT_TRY_LIMIT="1 per minute", WTF_CSRF_ENABLED=False)
    client = app.test_client()
    codes = [client.post(f"/submit?lang={lang}").status_code for _ in range(3)]
    assert codes[-1] == 429
    page = client.post(f"/submit?lang={lang}").get_data(as_text=True)
    said = catalogue(lang)["Too many tries from your connection. Try again in %(wait)s."].string
    assert said.split("%(wait)s")[0] in page
    assert "per 1 minute" not in page and "per minute" not in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_werkzeug_error_without_our_words_gets_ours(client, app, lang):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(f"/submit?lang={lang}", data={"description": "x" * 5000})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert catalogue(lang)["Too much sent"].string in page
    if lang != "en":
        assert "Request Entity Too Large" not in page and "exceeds the capacity" not in page
