"""Issue 24: the organizer's form is safe by default (the reveal choice, what is public)."""

import re
from datetime import datetime, timedelta
from pathlib import Path

from conftest import add_rally
from sqlalchemy import select
from test_submit import csrf, form, next_week, submit

from mapapp.domain import db, lifecycle, rules
from mapapp.domain.models import Rally
from mapapp.places.locale import MINSK


def test_a_reveal_time_left_with_now_is_refused_not_dropped(client, app):
    data = form(client, reveal="now", reveal_date=next_week(), reveal_time="17:00")
    refused = client.post("/submit?lang=en", data=data)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "but chose to show it now" in page
    # the error makes the hidden fields visible again (app.css hides them without one)
    assert re.search(r'class="field-row reveal-at">\s*<div class="field field-has-error', page) or (
        "reveal-error" in page
    )
    data = form(client, reveal="now", reveal_date=next_week(), reveal_time="17:00", step="confirm")
    data.update(lat="53.6778", lon="23.8297")
    assert client.post("/submit", data=data).status_code == 422
    with app.app_context():
        assert db.session().scalars(select(Rally)).first() is None


def test_a_reveal_moment_already_past_is_refused(client):
    soon = datetime.now(MINSK) + timedelta(hours=1)
    data = form(client, date=soon.strftime("%Y-%m-%d"), time=soon.strftime("%H:%M"), reveal="2")
    refused = client.post("/submit?lang=en", data=data)
    assert refused.status_code == 422
    assert "already passed, so the place would be public at once" in refused.get_data(as_text=True)


def test_the_reveal_fields_are_hidden_unless_at_a_time_i_choose(client):
    page = client.get("/submit").get_data(as_text=True)
    assert 'class="field-row reveal-at"' in page
    css = (Path(__file__).parents[1] / "mapapp/static/app.css").read_text()
    assert 'option[value="at"]:checked))' in css and ".reveal-at:not(" in css


def test_the_form_says_title_and_description_are_public_at_once(client):
    for lang, words in (
        ("en", "public as soon as a moderator approves"),
        ("be", "бачныя ўсім"),
        ("ru", "видны всем"),
    ):
        page = client.get(f"/submit?lang={lang}").get_data(as_text=True)
        assert words in page, lang
        assert "how to find you" not in page and "як вас знайсці" not in page


def test_the_preview_says_when_the_place_shows_and_warns_of_a_locating_description(client):
    data = form(client, reveal="2", description="Збор каля помніка ў 18:50.")
    page = client.post("/submit?lang=en", data=data).get_data(as_text=True)
    assert 'id="preview-reveal">From ' in page and "Until then everyone sees only" in page
    assert "Збор каля помніка" in page  # the description, as it will be public
    assert 'id="locating-warning"' in page and "каля" in page and "помнік" in page
    # shown at once: nothing is hidden, so nothing to warn of
    data = form(client, reveal="now", description="Збор каля помніка ў 18:50.")
    page = client.post("/submit?lang=en", data=data).get_data(as_text=True)
    assert 'id="preview-reveal">At once' in page and 'id="locating-warning"' not in page


def test_the_preview_writes_the_date_as_the_list_does(client):
    data = form(client, date=next_week())
    page = client.post("/submit?lang=be", data=data).get_data(as_text=True)
    assert not re.search(r"<dd>\d{4}-\d\d-\d\d \d\d:\d\d", page)
    assert "19:00" in page


def test_locating_hints():
    assert rules.locating_hints("Прыходзьце з плакатамі.") == []
    assert "каля" in rules.locating_hints("Сустракаемся каля фантана")
    assert "возле" in rules.locating_hints("Встречаемся возле входа")
    assert rules.locating_hints("Збор: Савецкая плошча", "Савецкая плошча")[0] == "Савецкая плошча"
    assert rules.locating_hints("Фотакаляж") == []  # not inside another word


def test_the_manage_page_keeps_an_offset_choice_without_a_stray_date(client, app):
    rally_id = add_rally(app, manage_token_hash=lifecycle.hash_token("tok"))
    with app.app_context():
        rally = db.session().get(Rally, rally_id)
        rally.reveal_at = rally.starts_at - timedelta(hours=2)
        db.session().commit()
    page = client.get("/manage/tok").get_data(as_text=True)
    assert re.search(r'<option selected value="2">|<option value="2" selected>', page)
    assert re.search(r'id="reveal_date" name="reveal_date" type="date" value=""', page), page


def test_a_manage_edit_warns_of_a_locating_description(client, app):
    add_rally(app, manage_token_hash=lifecycle.hash_token("tok"))
    data = {
        **form(client),
        "csrf_token": csrf(client, "/manage/tok"),
        "reveal": "6",
        "description": "Встречаемся возле памятника",
    }
    assert client.post("/manage/tok/edit?lang=en", data=data).status_code == 303
    page = client.get("/manage/tok?lang=en").get_data(as_text=True)
    assert "The description may give the hidden place away." in page
    assert submit
