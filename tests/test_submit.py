"""Organizers submit and manage rallies; bad input is refused with a 4xx and changes nothing."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, make_app, open_manage
from sqlalchemy import func, select

from mapapp.domain import db, lifecycle
from mapapp.domain.lifecycle import hash_token
from mapapp.domain.models import AuditEntry, Rally, Status
from mapapp.places.locale import MINSK

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf(client, url="/submit"):
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def next_week():
    day = datetime.now(MINSK) + timedelta(days=7)
    return day.strftime("%Y-%m-%d")


def form(client, **changes):
    data = {
        "csrf_token": csrf(client),
        "title": "Пікет салідарнасці ў Гродне",
        "town": "Гродно",
        "place": "Савецкая плошча",
        "date": next_week(),
        "time": "19:00",
        "description": "Прыходзьце з плакатамі.",
        "contact": "organizer@example.org",
        "website": "",
    }
    data.update(changes)
    return data


def rally_count(app, *where):
    with app.app_context():
        return db.session().scalar(select(func.count(Rally.id)).where(*where))


def submit(client, **changes):
    """Preview, then confirm: what a person does; returns the manage link."""
    data = form(client, **changes)
    preview = client.post("/submit", data=data)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    page = preview.get_data(as_text=True)
    lat = re.search(r'name="lat" value="([^"]+)"', page).group(1)
    lon = re.search(r'name="lon" value="([^"]+)"', page).group(1)
    geonameid = re.search(r'name="geonameid" value="([^"]*)"', page).group(1)
    data.update(step="confirm", lat=lat, lon=lon, geonameid=geonameid)
    sent = client.post("/submit", data=data)
    assert sent.status_code == 303
    done = client.get(sent.headers["Location"]).get_data(as_text=True)
    return re.search(r'href="(http://localhost/manage/[^"]+)"', done).group(1)


def test_form_page(client):
    page = client.get("/submit?lang=en").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert 'type="date"' in page and 'type="time"' in page
    assert '<datalist id="towns">' in page and "Hrodna" in page
    assert 'class="hp" aria-hidden="true"' in page


def test_preview_shows_the_geocoded_square_on_a_map(client):
    preview = client.post("/submit?lang=en", data=form(client))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert 'name="lat" value="53.6778"' in page and 'name="lon" value="23.8297"' in page
    assert "Soviet Square, Hrodna" in page
    assert "RallyMap.init(" in page and '"mode": "pin"' in page
    assert "script-src 'self' 'sha256-" in preview.headers["Content-Security-Policy"]


def test_the_preview_names_the_found_village_s_region(client):
    """Belarus has dozens of «Навасёлкі»: the gazetteer knows one (Mahilioŭ Region), and the
    preview said only "Навасёлкі", so an organizer from another Навасёлкі could not see that
    the pin was put 200 km away."""
    page = client.post("/submit?lang=be", data=form(client, town="Навасёлкі", place=""))
    found = re.search(r'<dd id="preview-found">(.*?)</dd>', page.get_data(as_text=True), re.S)
    assert found and "Магілёўская вобласць" in found.group(1), page.get_data(as_text=True)[:300]
    page = client.post("/submit?lang=ru", data=form(client, town="Новоселки", place=""))
    assert "Могилёвская область" in page.get_data(as_text=True)
    page = client.post("/submit?lang=en", data=form(client))  # a square: its town's region too
    assert "Hrodna Region" in page.get_data(as_text=True)


def test_submit_stores_a_pending_rally_and_shows_the_link_once(client, app):
    link = submit(client)
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 32  # 192 bits in URL-safe base64
    with app.app_context():
        rally = db.session().scalars(select(Rally)).one()
        assert rally.status == Status.PENDING.value
        assert rally.manage_token_hash == hash_token(token)
        assert token not in (rally.manage_token_hash or "")
        assert rally.region == "BY-HR" and rally.contact == "organizer@example.org"
        assert rally.starts_at.astimezone(MINSK).hour == 19
    other = client.application.test_client().get("/submit/done").get_data(as_text=True)
    assert token not in other  # another browser never sees it


def test_pending_rally_is_not_public(client, app):
    submit(client, title="Secret pending rally")
    with app.app_context():
        rally_id = db.session().scalars(select(Rally.id)).one()
    assert "Secret pending rally" not in client.get("/rallies?when=all").get_data(as_text=True)
    assert client.get(f"/rallies/{rally_id}").status_code == 404
    assert client.get(f"/api/rallies/{rally_id}").status_code == 404
    assert "Secret pending" not in client.get("/api/rallies.geojson?when=all").get_data(
        as_text=True
    )


def test_dragged_pin_is_kept(client, app):
    data = form(client)
    data.update(step="confirm", lat="53.6800", lon="23.8400", geonameid="627904")
    assert client.post("/submit", data=data).status_code == 303
    with app.app_context():
        rally = db.session().scalars(select(Rally)).one()
    assert (rally.lat, rally.lon) == (53.68, 23.84)


def test_pin_moved_to_another_town_takes_that_town(client, app):
    data = form(client)
    data.update(step="confirm", lat="52.1215", lon="26.0673", geonameid="627904")  # Pinsk
    assert client.post("/submit", data=data).status_code == 303
    with app.app_context():
        rally = db.session().scalars(select(Rally)).one()
    assert rally.region == "BY-BR" and rally.geonameid == 623549


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "Give the rally a title."),
        ({"title": "x" * 121}, "title", "Between 5 and 120 characters"),
        ({"title": "Пікет\x00салідарнасці"}, "title", "not allowed"),
        ({"title": "Пікет\nсалідарнасці"}, "title", "one line"),
        ({"title": "Пікет\u2028салідарнасці"}, "title", "one line"),
        ({"place": "Плошча\u202e, Гродна"}, "place", "direction of text"),
        ({"town": "Мінск\u2067"}, "town", "direction of text"),
        ({"contact": "@me\u200f"}, "contact", "direction of text"),
        ({"description": "ok\u061cno"}, "description", "direction of text"),
        ({"title": "Пікет\u200bсалідарнасці"}, "title", "invisible formatting"),
        ({"date": "2026-02-30"}, "date", "Not a valid date"),
        ({"time": "25:61"}, "time", "Not a valid time"),
        ({"description": "a" * 2001}, "description", "2000"),
        ({"description": "ok\x00no"}, "description", "not allowed"),
        ({"town": ""}, "town", "Name the town."),
        ({"town": "Atlantis"}, "town", "not in our list"),
        ({"date": "2020-01-01"}, "date", "in the future"),
        ({"date": "not-a-date"}, "date", "Not a valid date"),
        (
            {"date": (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%d")},
            "date",
            "within a year",
        ),
        ({"contact": "c" * 201}, "contact", "200"),
        ({"reveal": ""}, "reveal", "Not a valid choice"),  # a forged form: was a 500
        ({"reveal": "x1"}, "reveal", "Not a valid choice"),
    ],
)
def test_bad_input_is_shown_next_to_its_field(client, app, changes, field, message):
    response = client.post("/submit?lang=en", data=form(client, **changes))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1), page
    assert f'aria-describedby="{field}-hint {field}-error"' in page or (
        f'aria-describedby="{field}-error"' in page
    )
    assert 'role="alert"' in page
    # what was typed comes back (but never a NUL byte)
    if "\x00" not in str(changes) and changes.get(field, "") and field not in ("date", "reveal"):
        assert str(changes[field])[:50] in page
    assert rally_count(app) == 0


def test_point_outside_belarus_is_refused(client, app):
    data = form(client)
    data.update(step="confirm", lat="52.2297", lon="21.0122")  # Warsaw
    response = client.post("/submit?lang=en", data=data)
    assert response.status_code == 422
    assert "outside Belarus" in response.get_data(as_text=True)
    assert rally_count(app) == 0


def test_missing_or_wrong_csrf_token(client, app):
    data = form(client)
    del data["csrf_token"]
    missing = client.post("/submit?lang=en", data=data)
    assert missing.status_code == 400
    page = missing.get_data(as_text=True)
    assert "The form was not sent" in page and "Nothing you typed is lost" in page
    assert "Пікет салідарнасці ў Гродне" in page  # the typed text is in the form again
    wrong = client.post("/submit", data={**form(client), "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert rally_count(app) == 0


def test_honeypot(client, app):
    response = client.post("/submit", data=form(client, website="http://spam.example"))
    assert response.status_code == 400
    assert rally_count(app) == 0


def test_body_over_the_limit_is_413(client, app):
    response = client.post("/submit", data=form(client, description="x" * 100_000))
    assert response.status_code == 413
    assert rally_count(app) == 0


def test_too_many_submissions_is_429(sqlite_url):
    app = make_app(sqlite_url, SUBMIT_TRY_LIMIT="2 per hour")
    client = app.test_client()
    codes = [client.post("/submit", data=form(client)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert rally_count(app) == 0


def test_previews_do_not_use_up_the_sends_and_a_429_keeps_the_form(sqlite_url):
    """Trying spellings of a village (previews, corrections) counts toward the looser
    SUBMIT_TRY_LIMIT; only the final send toward SUBMIT_LIMIT. Past a limit the form comes
    back with what was typed and the real wait, in words (never "a minute")."""
    app = make_app(sqlite_url, SUBMIT_LIMIT="1 per hour", SUBMIT_TRY_LIMIT="30 per hour")
    client = app.test_client()
    for _ in range(5):
        assert client.post("/submit", data=form(client)).status_code == 200
    submit(client)  # the first send: accepted after five previews
    data = form(client, title="Другі пікет салідарнасці")
    page = client.post("/submit?lang=en", data=data).get_data(as_text=True)
    data.update(
        step="confirm",
        lat=re.search(r'name="lat" value="([^"]+)"', page).group(1),
        lon=re.search(r'name="lon" value="([^"]+)"', page).group(1),
        submission=re.search(r'name="submission" value="([^"]+)"', page).group(1),
    )
    for lang, words in (
        ("en", "Try again in 60 minutes"),
        ("be", "праз 60 хвілін"),
        ("ru", "через 60 минут"),
    ):
        refused = client.post(f"/submit?lang={lang}", data=data)
        assert refused.status_code == 429
        text = refused.get_data(as_text=True)
        assert words in text, lang  # 59-60 minutes: the hour's window
        assert 'value="Другі пікет салідарнасці"' in text  # what was typed, kept
        assert 'id="too-many"' in text
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert "wait a minute" not in text and "хвіліну" not in text
    assert rally_count(app) == 1


def test_manage_link_shows_status_and_edits_go_back_to_moderation(client, app):
    link = submit(client)
    path = link.replace("http://localhost", "")
    open_manage(client, path.rsplit("/", 1)[1])
    page = client.get(path + "?lang=en").get_data(as_text=True)
    assert "waiting for a moderator" in page
    assert page.count("organizer@example.org") == 1  # the organizer sees their own contact
    with app.app_context():
        session = db.session()
        rally = session.scalars(select(Rally)).one()
        lifecycle.approve(session, rally, "moderator:test")
        rally_id = rally.id
    token_csrf = csrf(client, path)
    changed = client.post(
        path + "/edit", data={**form(client), "csrf_token": token_csrf, "time": "18:30"}
    )
    assert changed.status_code == 303
    with app.app_context():
        rally = db.session().scalars(select(Rally)).one()
        # The change waits for a moderator beside the approved version, which stays public.
        assert rally.status == Status.APPROVED.value and rally.changes_pending
        assert rally.starts_at.astimezone(MINSK).strftime("%H:%M") == "18:30"
        actions = db.session().scalars(select(AuditEntry.action)).all()
        assert actions == ["submit", "approve", "edit"]
    public = client.get(f"/api/rallies/{rally_id}").get_json()
    assert "18:30" not in public["starts_at"] and public["changes_pending"] is True


def test_cancel_by_link_keeps_an_approved_rally_visible_as_cancelled(client, app):
    link = submit(client, title="Rally that gets cancelled")
    path = link.replace("http://localhost", "")
    with app.app_context():
        session = db.session()
        rally = session.scalars(select(Rally)).one()
        from mapapp.domain import lifecycle

        lifecycle.approve(session, rally, "moderator:test")
        rally_id = rally.id
    unconfirmed = client.post(path + "/cancel", data={"csrf_token": csrf(client, path)})
    assert unconfirmed.status_code == 422  # one stray tap cancels nothing
    assert "Пастаўце адзнаку" in unconfirmed.get_data(as_text=True)  # the default language
    assert client.get("/api/rallies.geojson").get_json()["features"][0]["properties"]["status"] == (
        "approved"
    )
    response = client.post(
        path + "/cancel", data={"csrf_token": csrf(client, path), "confirm": "y"}
    )
    assert response.status_code == 303
    page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "This rally is cancelled." in page
    feature = client.get("/api/rallies.geojson").get_json()["features"][0]
    assert feature["properties"]["status"] == "cancelled"
    # a replayed cancel changes nothing
    again = client.post(path + "/cancel", data={"csrf_token": csrf(client), "confirm": "y"})
    assert again.status_code == 409
    edit = client.post(path + "/edit", data=form(client))
    assert edit.status_code == 409


def test_cancel_of_a_never_approved_rally_withdraws_it(client, app):
    link = submit(client, title="Withdrawn before approval")
    path = link.replace("http://localhost", "")
    client.post(path + "/cancel", data={"csrf_token": csrf(client, path), "confirm": "y"})
    assert rally_count(app, Rally.status == Status.WITHDRAWN.value) == 1
    assert "Withdrawn" not in client.get("/rallies?when=all").get_data(as_text=True)


def test_unknown_manage_token_is_404(client, app):
    add_rally(app, manage_token_hash=hash_token("the-real-token"))
    # the link's first page is the same for any token; opening it says it is not valid
    assert client.get("/manage/not-the-token").status_code == 200
    opened = client.post("/manage/not-the-token/open", data={"csrf_token": csrf(client)})
    assert opened.status_code == 404 and "mapapp_manage" not in opened.headers.get("Set-Cookie", "")
    response = client.post("/manage/not-the-token/cancel", data={"csrf_token": csrf(client)})
    assert response.status_code == 404
    assert rally_count(app, Rally.status == Status.APPROVED.value) == 1


def test_state_changes_refuse_get(client, app):
    rally_id = add_rally(app, manage_token_hash=hash_token("tok"))
    assert client.get("/manage/tok/cancel").status_code == 405
    assert client.get(f"/moderate/rallies/{rally_id}/approve").status_code == 405
    assert rally_count(app, Rally.status == Status.APPROVED.value) == 1


def test_the_empty_form_may_be_indexed(client):
    response = client.get("/submit")
    assert "X-Robots-Tag" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"  # it holds a CSRF token


def test_manage_pages_are_private(client, app):
    add_rally(app, manage_token_hash=hash_token("tok"))
    response = client.get("/manage/tok")
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_every_limited_form_says_the_real_wait_and_titles_have_words(sqlite_url):
    app = make_app(sqlite_url, SUBMIT_LIMIT="1 per hour")
    add_rally(app, manage_token_hash=hash_token("tok"))
    client = app.test_client()
    token = csrf(client, "/manage/tok")
    for _ in range(2):
        answer = client.post("/manage/tok/cancel?lang=be", data={"csrf_token": token})
    assert answer.status_code == 429
    page = answer.get_data(as_text=True)
    assert "Паспрабуйце праз 60 хвілін" in page and "хвіліну" not in page
    assert re.search(r"<title>[^<]*429", page) is None and "<h1>429" not in page
    assert 0 < int(answer.headers["Retry-After"]) <= 3600
    # the edit form comes back with what was typed
    data = {**form(client), "csrf_token": token, "title": "Новая назва пікета"}
    codes = [client.post("/manage/tok/edit?lang=ru", data=data).status_code for _ in range(2)]
    answer = client.post("/manage/tok/edit?lang=ru", data=data)
    assert codes[0] == 303 and answer.status_code == 429
    page = answer.get_data(as_text=True)
    assert 'value="Новая назва пікета"' in page and "через 60 минут" in page


# Review 24b, finding 6: the form that comes back keeps the dragged pin and every choice.
def hidden(page, name):
    found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page) or re.search(
        rf'type="hidden" name="{name}" value="([^"]*)"', page
    )
    return found.group(1) if found else None


def dragged_preview(client, **changes):
    """The preview with the reveal at a time of one's own; the pin dragged 300 m north."""
    data = form(
        client, reveal="at", reveal_date=next_week(), reveal_time="17:30", time="19:00", **changes
    )
    page = client.post("/submit?lang=en", data=data).get_data(as_text=True)
    lat = f"{float(hidden(page, 'lat')) + 0.003:.6f}"
    data.update(
        step="confirm",
        lat=lat,
        lon=hidden(page, "lon"),
        geonameid=hidden(page, "geonameid"),
        pin_for=hidden(page, "pin_for"),
        submission=hidden(page, "submission"),
    )
    return data


def assert_all_kept(page, data):
    assert hidden(page, "lat") == data["lat"], "the dragged pin"
    assert hidden(page, "lon") == data["lon"]
    assert re.search(r'<option selected value="at">', page), "the reveal choice"
    assert f'value="{data["reveal_date"]}"' in page and 'value="17:30"' in page
    assert f'value="{data["date"]}"' in page and 'value="19:00"' in page
    assert 'value="Пікет салідарнасці ў Гродне"' in page


def assert_next_preview_starts_at_the_pin(client, page, data):
    again = {**data, "step": "preview", "pin_for": hidden(page, "pin_for")}
    again["csrf_token"] = CSRF.search(page).group(1) if CSRF.search(page) else csrf(client)
    preview = client.post("/submit?lang=en", data=again).get_data(as_text=True)
    assert float(hidden(preview, "lat")) == float(data["lat"]), "the next preview: the dragged pin"


def test_a_429_on_the_final_send_keeps_the_pin_and_every_choice(sqlite_url):
    app = make_app(sqlite_url, SUBMIT_LIMIT="1 per hour", SUBMIT_TRY_LIMIT="30 per hour")
    client = app.test_client()
    submit(client)
    data = dragged_preview(client)
    refused = client.post("/submit?lang=en", data=data)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert_all_kept(page, data)
    assert_next_preview_starts_at_the_pin(client, page, data)


def test_a_422_and_a_stale_token_on_the_final_send_keep_the_pin(client, app):
    data = dragged_preview(client)
    wrong = client.post("/submit?lang=en", data={**data, "title": ""})
    assert wrong.status_code == 422
    page = wrong.get_data(as_text=True)
    assert_all_kept(page.replace('value=""', 'value="Пікет салідарнасці ў Гродне"', 1), data)
    assert_next_preview_starts_at_the_pin(client, page, data)
    stale = client.post("/submit?lang=en", data={**data, "csrf_token": "stale"})
    assert stale.status_code == 400
    page = stale.get_data(as_text=True)
    assert_all_kept(page, data)
    assert_next_preview_starts_at_the_pin(client, page, data)
    assert rally_count(app) == 0


def test_change_the_details_keeps_the_pin_until_the_place_text_changes(client):
    data = dragged_preview(client)
    back = client.post("/submit?lang=en", data={**data, "step": "edit"})
    page = back.get_data(as_text=True)
    assert_all_kept(page, data)
    assert_next_preview_starts_at_the_pin(client, page, data)
    moved = {**data, "step": "preview", "place": "Вакзал", "pin_for": hidden(page, "pin_for")}
    preview = client.post("/submit?lang=en", data=moved).get_data(as_text=True)
    assert float(hidden(preview, "lat")) != float(data["lat"]), "another place: the geocoder's"


def test_a_429_on_the_manage_edit_keeps_the_pin_and_every_choice(sqlite_url):
    app = make_app(sqlite_url, SUBMIT_LIMIT="1 per hour")
    add_rally(app, manage_token_hash=hash_token("tok"))
    client = app.test_client()
    open_manage(client, "tok")
    page = client.get("/manage/tok").get_data(as_text=True)
    data = {
        **form(client),
        "csrf_token": CSRF.search(page).group(1),
        "reveal": "at",
        "reveal_date": next_week(),
        "reveal_time": "17:30",
        "lat": f"{float(hidden(page, 'lat')) + 0.003:.6f}",
        "lon": hidden(page, "lon"),
    }
    assert client.post("/manage/tok/edit", data=data).status_code == 303
    refused = client.post("/manage/tok/edit?lang=en", data=data)
    assert refused.status_code == 429
    assert_all_kept(refused.get_data(as_text=True), data)
