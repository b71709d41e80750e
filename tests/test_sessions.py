"""Sessions, secrets and redirects: one key for every worker, sessions that can be ended,
redirects that stay on the site, log-in limits per account, stale forms that keep the text,
and a confirm step that counts once."""

from __future__ import annotations

import multiprocessing
import re
import stat
import time

import pytest
from conftest import add_rally, make_app
from sqlalchemy import func, select
from test_submit import form as submit_form

from mapapp import create_app
from mapapp.domain import db
from mapapp.domain.lifecycle import hash_token
from mapapp.domain.models import Rally
from mapapp.web.accounts import SecretKeyError, load_or_create_secret, safe_next

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "correct horse battery"


def csrf(client, url):
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


@pytest.fixture
def moderator(app, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    return "alesia"


def log_in(client, password=PASSWORD, name="alesia", url="/moderate/login", **kwargs):
    token = csrf(client, "/moderate/login")
    data = {"csrf_token": token, "name": name, "password": password}
    return client.post(url, data=data, **kwargs)


# -- (a) one secret key for every worker ----------------------------------------------


def _read_secret(path):  # in another process: a gunicorn worker starting
    return load_or_create_secret(path)


def test_secret_key_is_made_once_for_all_workers(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        keys = pool.map(_read_secret, [path] * 12)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == keys[0]  # a restart keeps it
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no leftovers


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("k" * 64)
    path.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_or_create_secret(path)


def test_without_a_secret_key_two_workers_sign_alike(sqlite_url, monkeypatch):
    monkeypatch.delenv("MAPAPP_SECRET_KEY", raising=False)
    first = create_app({"DATABASE_URL": sqlite_url})
    second = create_app({"DATABASE_URL": sqlite_url})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    # Development (one process) still makes a throwaway one.
    dev = create_app({"DATABASE_URL": sqlite_url, "DEVELOPMENT": True})
    assert dev.config["SECRET_KEY"] != first.config["SECRET_KEY"]


# -- (b) sessions that can be ended ----------------------------------------------------


def copy_cookies(source, target):
    for cookie in source._cookies.values():  # noqa: SLF001 - the test client's jar
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_logout_ends_every_copy_of_the_cookie(app, moderator):
    client, thief = app.test_client(), app.test_client()
    assert log_in(client).status_code == 303
    copy_cookies(client, thief)
    assert thief.get("/moderate").status_code == 200
    client.post("/moderate/logout", data={"csrf_token": csrf(client, "/moderate")})
    assert thief.get("/moderate").status_code == 302  # the copied cookie is dead too
    assert log_in(client).status_code == 303  # logging in again works
    assert client.get("/moderate").status_code == 200


def test_a_new_password_ends_every_session(app, moderator, monkeypatch):
    client = app.test_client()
    log_in(client)
    assert client.get("/moderate").status_code == 200
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", "another long password")
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    assert client.get("/moderate").status_code == 302


# -- (c) next= stays on this site --------------------------------------------------------


@pytest.mark.parametrize(
    "raw_next",
    [
        "/%09/evil.example/x",
        "/%0a/evil.example/x",
        "%0a",
        "/moderate%0d%0aSet-Cookie:x=1",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "%20//evil.example",
        "%01//evil.example",
        "https://evil.example/moderate",
        "javascript:alert(1)",
        "/rallies/1",  # on this site, but not a moderation page
        "",
    ],
)
def test_login_redirect_after_normalisation(client, moderator, raw_next):
    response = log_in(client, url=f"/moderate/login?next={raw_next}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/moderate"


def test_login_redirect_keeps_the_page_and_the_path_prefix(client, moderator):
    response = log_in(client, url="/moderate/login?next=/moderate/rallies/7%3Fx%3D1")
    assert response.headers["Location"] == "/moderate/rallies/7"
    mirror = log_in(
        client, url="/moderate/login?next=/moderate/rallies/7", base_url="http://localhost/mirror/"
    )
    assert mirror.headers["Location"] == "/mirror/moderate/rallies/7"


def test_safe_next():
    assert safe_next("/moderate") == "/moderate"
    assert safe_next("/moderate\t") == "/moderate"
    assert safe_next("/\t/evil.example") is None
    assert safe_next("/moderate/../..//evil") is None
    assert safe_next("/moderate/%2E%2e/rallies") is None


# -- (d) log-in limits per account, shared by all workers --------------------------------


def test_failures_are_counted_by_all_workers_together(sqlite_url, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    monkeypatch.setenv("MAPAPP_HASH_KEY", "k" * 64)  # as gunicorn.conf.py gives every worker
    workers = [make_app(sqlite_url, LOGIN_LIMIT="3 per minute") for _ in range(2)]
    workers[0].test_cli_runner().invoke(args=["create-moderator", "alesia"])
    clients = [w.test_client() for w in workers]
    codes = [log_in(clients[i % 2], password="guess").status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]
    assert log_in(clients[1]).status_code == 429  # the right password waits too, here


def test_a_guess_from_many_addresses_stops_at_the_account_limit(sqlite_url, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app = make_app(sqlite_url, TRUSTED_PROXIES=1, LOGIN_ACCOUNT_LIMIT="3 per hour")
    app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    own_browser = app.test_client()
    assert log_in(own_browser, headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 303
    codes = []
    for i in range(5):
        attacker = app.test_client()
        forwarded = {"X-Forwarded-For": f"198.51.100.{i}"}
        codes.append(log_in(attacker, password=f"guess {i}", headers=forwarded).status_code)
    assert codes == [401, 401, 401, 429, 429]
    # Even the right password from a new browser waits: the guess cannot succeed.
    stranger = app.test_client()
    assert log_in(stranger, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    # The moderator's own browser still gets in, from an attacker's address too.
    own_browser.post("/moderate/logout", data={"csrf_token": csrf(own_browser, "/moderate")})
    back = log_in(own_browser, headers={"X-Forwarded-For": "198.51.100.1"})
    assert back.status_code == 303


def test_a_locked_address_does_not_lock_out_the_moderators_browser(sqlite_url, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app = make_app(sqlite_url, LOGIN_LIMIT="3 per minute")
    app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    moderators_browser = app.test_client()
    assert log_in(moderators_browser).status_code == 303
    attacker = app.test_client()  # same address (one NAT, one proxy)
    codes = [log_in(attacker, password="guess").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    moderators_browser.post(
        "/moderate/logout", data={"csrf_token": csrf(moderators_browser, "/moderate")}
    )
    assert log_in(moderators_browser).status_code == 303


def test_the_failure_table_holds_no_name_or_address(app, moderator):
    client = app.test_client()
    log_in(client, password="guess", name="alesia")
    from mapapp.domain.models import LoginFailure

    with app.app_context():
        keys = db.session().scalars(select(LoginFailure.key)).all()
    assert len(keys) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


# -- (e) a stale form keeps what was typed -----------------------------------------------


def test_an_expired_form_is_shown_again_with_the_text(sqlite_url, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app = make_app(sqlite_url, WTF_CSRF_TIME_LIMIT=1)
    client = app.test_client()
    data = submit_form(client, description="Доўгі тэкст, які пісалі гадзіну.")
    old_token = data["csrf_token"]
    time.sleep(2)
    response = client.post("/submit?lang=en", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "it was open for more than an hour" in page
    assert "Доўгі тэкст, які пісалі гадзіну." in page and "organizer@example.org" in page
    fresh = CSRF.search(page).group(1)
    assert fresh != old_token
    resent = client.post("/submit", data={**data, "csrf_token": fresh})
    assert resent.status_code == 200  # the preview: sending again works


def test_an_expired_manage_edit_keeps_the_text(sqlite_url):
    app = make_app(sqlite_url, WTF_CSRF_TIME_LIMIT=1)
    add_rally(app, manage_token_hash=hash_token("tok-expired-form"))
    client = app.test_client()
    data = submit_form(client, title="Новая назва пасля гадзіны")
    data["csrf_token"] = csrf(client, "/manage/tok-expired-form")
    time.sleep(2)
    response = client.post("/manage/tok-expired-form/edit?lang=en", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Новая назва пасля гадзіны" in page and "The form was not sent" in page


def test_an_expired_moderator_edit_keeps_the_text(sqlite_url, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app = make_app(sqlite_url, WTF_CSRF_TIME_LIMIT=1)
    app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    rally_id = add_rally(app, status="pending")
    client = app.test_client()
    log_in(client)
    data = submit_form(client, title="Праўка мадэратара")
    data["csrf_token"] = csrf(client, f"/moderate/rallies/{rally_id}")
    time.sleep(2)
    response = client.post(f"/moderate/rallies/{rally_id}/edit?lang=en", data=data)
    assert response.status_code == 400
    assert "Праўка мадэратара" in response.get_data(as_text=True)


def test_forms_work_over_https_without_a_referer(client):
    data = submit_form(client)
    response = client.post("/submit", data=data, base_url="https://localhost")
    assert response.status_code == 200  # Flask-WTF's strict check would say 400


def test_a_post_another_site_made_is_refused(client, app):
    data = submit_form(client)
    response = client.post("/submit", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


# -- (f) the confirm step counts once ----------------------------------------------------


def rally_count(app):
    with app.app_context():
        return db.session().scalar(select(func.count(Rally.id)))


def test_confirm_sent_twice_stores_one_rally_and_shows_the_same_link(client, app):
    data = submit_form(client)
    preview = client.post("/submit", data=data).get_data(as_text=True)
    for name in ("lat", "lon", "geonameid", "submission"):
        data[name] = re.search(rf'name="{name}" value="([^"]*)"', preview).group(1)
    data["step"] = "confirm"
    links = []
    for _ in range(2):  # a retry, or Back and send
        sent = client.post("/submit", data=data)
        assert sent.status_code == 303
        done = client.get(sent.headers["Location"]).get_data(as_text=True)
        links.append(re.search(r'href="(http://localhost/manage/[^"]+)"', done).group(1))
    assert links[0] == links[1]
    assert rally_count(app) == 1
    assert client.get(links[0]).status_code == 200
    # A new submission (a new form) is a new rally.
    other = submit_form(client, title="Другі пікет у Гродне")
    client.post("/submit", data=other)
    client.post("/submit", data={**other, "step": "confirm", "lat": "53.68", "lon": "23.83"})
    assert rally_count(app) == 2
