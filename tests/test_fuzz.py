"""Hypothesis over every query parameter and the submit, manage and moderation forms.

Whatever arrives: no 5xx, and nothing stored that the form would refuse.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, make_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Moderator, Rally

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Names like url_for's options (_external, _method) and route arguments (rally_id) are issue 11
# §5's own tests (branch `input`); the names here are every parameter a route reads.
PARAMETERS = [
    "lang", "when", "region", "city", "from", "to", "page", "q", "lat", "lon", "url", "format",
    "maxwidth", "maxheight", "v", "filename", "token", "next", "zoom",
]  # fmt: skip
GET_ROUTES = [
    "/", "/rallies", "/rallies/1", "/embed", "/embed/code", "/submit", "/api/rallies.geojson",
    "/api/rallies/1", "/api/geocode", "/api/reverse", "/rallies.ics", "/rallies/1.ics",
    "/rallies.csv", "/oembed", "/moderate/login", "/healthz",
]  # fmt: skip
# Text as it arrives from outside: any Unicode, and the characters that break things most.
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "0", "-1", "1e309", "nan", "2030-13-45", "0001-01-01", "9999-12-31", "BY-HM",
         "%00", "\u202e", "../..", "//evil.example", "\r\nX: y", "a" * 3000, "be", "ru", "en"]
    ),
)  # fmt: skip
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):  # noqa: ANN001, ANN201
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    app = make_app(f"sqlite:///{path}", WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    add_rally(app, title="Пікет для праверкі")
    with app.app_context():
        session = db.session(write=True)
        session.add(Moderator(name="mod", password_hash=generate_password_hash("a long password")))
        session.commit()
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@FUZZ
@given(
    route=st.sampled_from(GET_ROUTES),
    query=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(PARAMETERS),
                st.text(max_size=10).filter(lambda name: not name.startswith("_")),
            ),
            TEXT,
        ),
        max_size=4,
    ),
)
def test_no_query_parameter_makes_a_server_error(fuzz_app, route, query) -> None:
    answer = fuzz_app.test_client().get(route, query_string=query)
    # oEmbed's spec answers an unsupported format with 501.
    allowed = answer.status_code < 500 or (route == "/oembed" and answer.status_code == 501)
    assert allowed, (route, query, answer.get_data(as_text=True)[:300])
    answer.close()


def stored_rallies_obey_the_form(app) -> None:
    """Every stored rally is one the form would accept."""
    now = datetime.now(UTC)
    with app.app_context():
        for rally in db.session().scalars(select(Rally)):
            assert 5 <= len(rally.title) <= 120 and rally.title == rally.title.strip()
            for text in (rally.title, rally.town, rally.place or "", rally.contact or ""):
                assert not CONTROL.search(text) and "\n" not in text and "\r" not in text
            assert len(rally.description or "") <= 2000
            assert not CONTROL.search(rally.description or "")
            assert 51 <= rally.lat <= 57 and 23 <= rally.lon <= 33
            if rally.title != "Пікет для праверкі":
                assert now - timedelta(days=1) < rally.starts_at < now + timedelta(days=367)


def form_fields():  # noqa: ANN201
    day = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
    return st.fixed_dictionaries(
        {
            "title": st.one_of(st.just("Пікет салідарнасці"), TEXT),
            "town": st.one_of(st.sampled_from(["Гродно", "Minsk", "Brest"]), TEXT),
            "place": st.one_of(st.just("Савецкая плошча"), TEXT),
            "date": st.one_of(st.just(day), TEXT),
            "time": st.one_of(st.just("19:00"), TEXT),
            "description": st.one_of(st.just("Апісанне"), TEXT),
            "contact": TEXT,
            "website": st.one_of(st.just(""), TEXT),
            "step": st.sampled_from(["preview", "confirm", "edit", "", "x"]),
            "lat": st.one_of(st.just("53.6778"), TEXT),
            "lon": st.one_of(st.just("23.8297"), TEXT),
            "geonameid": st.one_of(st.just(""), st.just("627904"), TEXT),
        }
    )


@FUZZ
@given(data=form_fields())
def test_submit_form(fuzz_app, data) -> None:
    answer = fuzz_app.test_client().post("/submit", data=data)
    assert answer.status_code < 500, (data, answer.get_data(as_text=True)[:300])
    stored_rallies_obey_the_form(fuzz_app)


@FUZZ
@given(data=form_fields(), action=st.sampled_from(["edit", "cancel"]))
def test_manage_form(fuzz_app, data, action) -> None:
    client = fuzz_app.test_client()
    with fuzz_app.app_context():
        session = db.session(write=True)
        rally = session.scalars(select(Rally)).first()
        token = lifecycle.new_token()
        rally.manage_token_hash = lifecycle.hash_token(token)
        session.commit()
    answer = client.post(f"/manage/{token}/{action}", data=data)
    assert answer.status_code < 500, (data, answer.get_data(as_text=True)[:300])
    stored_rallies_obey_the_form(fuzz_app)


@FUZZ
@given(
    data=form_fields(),
    action=st.sampled_from(["approve", "reject", "cancel", "edit"]),
    reason=TEXT,
    rally_id=st.sampled_from(["1", "2", "999999", "0"]),
)
def test_moderation_forms(fuzz_app, data, action, reason, rally_id) -> None:
    client = fuzz_app.test_client()
    login = client.post("/moderate/login", data={"name": "mod", "password": "a long password"})
    assert login.status_code == 303
    answer = client.post(f"/moderate/rallies/{rally_id}/{action}", data=data | {"reason": reason})
    assert answer.status_code < 500, (action, data, answer.get_data(as_text=True)[:300])
    stored_rallies_obey_the_form(fuzz_app)
