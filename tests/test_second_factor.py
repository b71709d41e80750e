"""Moderators' second factor over HTTP: TOTP set up at the first log-in (secret as text and
otpauth:// URI), a code after the password, a code used once, one-time recovery codes kept
only as hashes, wrong codes limited, the secret encrypted at rest, the operator's reset."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from conftest import make_app
from flask import Flask
from sqlalchemy import text
from test_moderate import PASSWORD, csrf, log_in

from mapapp.domain import db
from mapapp.web.twofactor import parse_setting


@pytest.fixture
def app2fa(sqlite_url: str) -> Iterator[Flask]:
    app = make_app(sqlite_url, SECOND_FACTOR="required", SECOND_FACTOR_LIMIT="3 per 15 minutes")
    result = app.test_cli_runner().invoke(
        args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
    )
    assert result.exit_code == 0, result.output
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def enrol(app: Flask):  # noqa: ANN201
    """Log in for the first time and set the second factor up: (client, secret, codes)."""
    client = app.test_client()
    response = log_in(client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/moderate/account")
    page = client.get("/moderate/account?lang=en").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([^<]*)<', page).group(1).replace(" ", "")
    assert f"otpauth://totp/Rally%20map:alesia?secret={secret}" in page
    token = csrf(client, "/moderate/account")
    response = client.post(
        "/moderate/account", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}
    )
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([^<]*)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10
    return client, secret, codes


def next_code(secret: str) -> str:
    """The code of the next 30-second step (accepted: phones' clocks drift), unused so far."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def second_step(client, code: str):  # noqa: ANN001, ANN201
    assert log_in(client).headers["Location"].endswith("/moderate/login/code")
    token = csrf(client, "/moderate/login/code")
    return client.post("/moderate/login/code", data={"csrf_token": token, "code": code})


def test_the_setting_is_required_in_production_and_optional_in_development() -> None:
    assert parse_setting(None, development=False) is True
    assert parse_setting(None, development=True) is False
    assert parse_setting("optional", development=False) is False
    assert parse_setting("required", development=True) is True
    with pytest.raises(ValueError, match="SECOND_FACTOR"):
        parse_setting("reqired", development=False)


def test_a_password_alone_opens_no_moderation_page_until_the_factor_is_set_up(app2fa) -> None:
    client = app2fa.test_client()
    log_in(client)
    for url in ("/moderate", "/moderate/log", "/moderate/moderators"):
        assert client.get(url).status_code == 302, url
    client, _secret, _codes = enrol(app2fa)
    assert client.get("/moderate").status_code == 200


def test_the_next_log_in_needs_a_code_and_a_code_works_once(app2fa) -> None:
    _first, secret, _codes = enrol(app2fa)
    client = app2fa.test_client()
    assert second_step(client, "000000").status_code in (401, 429)
    assert client.get("/moderate").status_code == 302
    code = next_code(secret)
    assert second_step(client, code).status_code == 303
    assert client.get("/moderate").status_code == 200
    # The same code again (seen over a shoulder, or replayed), from another browser: refused.
    other = app2fa.test_client()
    assert second_step(other, code).status_code == 401
    assert other.get("/moderate").status_code == 302


def test_a_recovery_code_works_once_and_is_kept_only_as_a_hash(app2fa) -> None:
    _first, secret, codes = enrol(app2fa)
    client = app2fa.test_client()
    assert second_step(client, codes[0]).status_code == 303
    assert client.get("/moderate").status_code == 200
    again = app2fa.test_client()
    assert second_step(again, codes[0]).status_code == 401
    with app2fa.app_context():
        connection = db.session().connection()
        stored = " ".join(
            str(row) for row in connection.execute(text("SELECT * FROM recovery_code"))
        )
        moderator = connection.execute(text("SELECT totp_secret FROM moderator")).scalar()
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
    # The TOTP secret is encrypted like the organizers' contacts.
    assert moderator.startswith("fernet:") and secret not in moderator


def test_wrong_codes_are_limited_per_account_by_a_keyed_hash(app2fa) -> None:
    _first, secret, _codes = enrol(app2fa)
    client = app2fa.test_client()
    for _ in range(3):
        assert second_step(client, "123456").status_code == 401
    # Now even the right code waits: six digits cannot be found by trying.
    assert second_step(client, next_code(secret)).status_code == 429
    with app2fa.app_context():
        keys = db.session().connection().execute(text("SELECT key FROM login_failure")).all()
    assert keys and all("alesia" not in key and len(key) == 64 for (key,) in keys)


def test_wrong_codes_cannot_lock_the_moderator_out_of_a_recovery_code(app2fa) -> None:
    """Someone with the password types wrong codes on purpose: six digits pause, but the
    moderator's own recovery code (80 bits) still opens, once."""
    _first, secret, codes = enrol(app2fa)
    attacker = app2fa.test_client()
    for _ in range(3):
        assert second_step(attacker, "123456").status_code == 401
    assert second_step(attacker, "654321").status_code == 429
    assert second_step(attacker, "0" * 20).status_code == 429  # a wrong "recovery code"
    moderator = app2fa.test_client()
    assert second_step(moderator, next_code(secret)).status_code == 429
    assert second_step(moderator, codes[3]).status_code == 303
    assert moderator.get("/moderate").status_code == 200
    assert second_step(app2fa.test_client(), codes[3]).status_code == 429  # used up


def test_the_operator_resets_a_lost_second_factor_and_every_session_ends(app2fa) -> None:
    client, _secret, _codes = enrol(app2fa)
    result = app2fa.test_cli_runner().invoke(args=["reset-second-factor", "alesia"])
    assert result.exit_code == 0, result.output
    assert client.get("/moderate").status_code == 302
    again = app2fa.test_client()
    assert log_in(again).headers["Location"].endswith("/moderate/account")
    unknown = app2fa.test_cli_runner().invoke(args=["reset-second-factor", "nobody"])
    assert unknown.exit_code != 0


def test_optional_second_factor_is_offered_on_the_account_page(app) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD})
    client = app.test_client()
    assert log_in(client).headers["Location"].endswith("/moderate")
    page = client.get("/moderate/account?lang=en").get_data(as_text=True)
    assert "Set up a second factor" in page and "otpauth://totp/" in page


def test_a_session_opened_before_the_factor_was_required_ends(sqlite_url) -> None:
    """A phone seized with a session opened while the second factor was optional gives no
    moderation page once the operator requires it: the moderator logs in and sets it up."""
    app = make_app(sqlite_url, SECOND_FACTOR="optional")
    app.test_cli_runner().invoke(
        args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
    )
    client = app.test_client()
    assert log_in(client).headers["Location"].endswith("/moderate")
    assert client.get("/moderate").status_code == 200
    app.config["SECOND_FACTOR"] = True  # the operator requires it (a restart with the setting)
    response = client.get("/moderate")
    assert response.status_code == 302 and "/moderate/login" in response.headers["Location"]
    assert log_in(client).headers["Location"].endswith("/moderate/account")
    app.extensions["mapapp.db"]["engine"].dispose()


def test_without_a_contact_key_the_first_log_in_says_what_to_set_not_a_500(
    sqlite_url, monkeypatch
) -> None:
    """`make serve` without MAPAPP_CONTACT_KEY: the TOTP secret cannot be sealed, so the set-up
    page is a 503 naming the setting (the failed commit used to be a 500), and nothing is stored."""
    from mapapp.domain import contacts

    app = make_app(sqlite_url, SECOND_FACTOR="required", CONTACT_KEY=None)
    monkeypatch.setattr(contacts, "clear_text_allowed", lambda: False)
    result = app.test_cli_runner().invoke(
        args=["create-moderator", "alesia"], env={"MAPAPP_MODERATOR_PASSWORD": PASSWORD}
    )
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert log_in(client).headers["Location"].endswith("/moderate/account")
    response = client.get("/moderate/account?lang=en")
    assert response.status_code == 503
    assert "MAPAPP_CONTACT_KEY" in response.get_data(as_text=True)
    with app.app_context():
        stored = db.session().execute(text("SELECT totp_secret FROM moderator")).scalar()
    assert stored is None
    app.extensions["mapapp.db"]["engine"].dispose()
