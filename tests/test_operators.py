"""Operators without traps: make serve installs what the settings need and says what will
break; a clean start; restore says what to do next; contacts never in clear in development."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import add_rally, make_app
from sqlalchemy import text

from mapapp import create_app
from mapapp.domain import db

ROOT = Path(__file__).resolve().parent.parent


def load(name: str):  # noqa: ANN201
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


extras = load("extras")
serve = load("serve")


def test_the_settings_name_the_extras_they_need():
    assert extras.needed({}) == []
    assert extras.needed({"MAPAPP_DATABASE_URL": "sqlite:///x.sqlite3"}) == []
    assert extras.needed({"MAPAPP_DATABASE_URL": "postgresql://u@h/db"}) == [
        ("postgres", "psycopg", "MAPAPP_DATABASE_URL")
    ]
    assert extras.needed(
        {"DATABASE_URL": "postgres://u@h/db", "MAPAPP_REDIS_URL": "redis://h"}
    ) == [
        ("postgres", "psycopg", "DATABASE_URL"),
        ("redis", "redis", "MAPAPP_REDIS_URL"),
    ]
    assert extras.needed({"MAPAPP_DATABASE_URL": "postgresql+psycopg://u@h/db"})[0][0] == "postgres"


def test_what_is_missing_is_installed_or_one_sentence_says_what_to_do():
    environ = {"MAPAPP_DATABASE_URL": "postgresql://u@h/db", "MAPAPP_REDIS_URL": "redis://h"}
    present: set[str] = set()
    calls = []

    def pip(args: list[str]) -> int:
        calls.append(args)
        present.update({"psycopg", "redis"})
        return 0

    assert extras.main(environ, have=present.__contains__, run=pip) == 0
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", "-e", ".[postgres,redis]"]]
    calls.clear()
    assert (
        extras.main(environ, have=present.__contains__, run=pip) == 0 and calls == []
    )  # nothing to do

    with pytest.raises(SystemExit) as stopped:
        extras.main(environ, have=lambda module: False, run=lambda args: 1)
    sentence = str(stopped.value.code)
    assert "\n" not in sentence and sentence.endswith("try again.")
    assert "MAPAPP_DATABASE_URL and MAPAPP_REDIS_URL needs psycopg and redis" in sentence


def test_make_serve_installs_the_extras_before_the_database_is_touched():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nserve: install\n")[1].split("\n\n")[0]
    assert recipe.index("deploy/extras.py") < recipe.index("init-db")


def test_serve_prints_the_address_that_works():
    assert serve.site_address("127.0.0.1:8000", "127.0.0.1 localhost") == "http://127.0.0.1:8000/"
    # nginx answers 421 to 127.0.0.1 when only the site's names are declared
    assert serve.site_address("0.0.0.0:8080", "map.example www.map.example") == (
        "http://map.example:8080/"
    )
    assert serve.site_address("0.0.0.0:80", "map.example") == "http://map.example/"


def test_serve_warns_of_an_http_base_url_outside_development():
    key = {"MAPAPP_CONTACT_KEY": "k"}
    (warning,) = serve.start_warnings({"MAPAPP_BASE_URL": "http://map.example", **key})
    assert "not https://" in warning and "log-in fail" in warning
    assert serve.start_warnings({"MAPAPP_BASE_URL": "https://map.example", **key}) == []
    assert serve.start_warnings({"MAPAPP_BASE_URL": "http://abc.onion", **key}) == []
    assert serve.start_warnings({"MAPAPP_BASE_URL": "http://x", "MAPAPP_DEVELOPMENT": "1"}) == []


def test_serve_warns_of_a_missing_contact_key_outside_development():
    """Without it a moderator's first log-in stops at the second factor (review 24b): said when
    `make serve` starts, not found out at the first log-in."""
    (warning,) = serve.start_warnings({"MAPAPP_BASE_URL": "https://map.example"})
    assert "MAPAPP_CONTACT_KEY is not set" in warning and "new-contact-key" in warning
    assert serve.start_warnings({"MAPAPP_DEVELOPMENT": "1"}) == []


def test_the_app_warns_at_start_of_an_http_base_url(sqlite_url, caplog):
    with caplog.at_level(logging.WARNING):
        create_app(
            {"DATABASE_URL": sqlite_url, "SECRET_KEY": "k" * 32, "BASE_URL": "http://map.example"}
        )
    assert any("not https://" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app(
            {"DATABASE_URL": sqlite_url, "SECRET_KEY": "k" * 32, "BASE_URL": "https://map.example"}
        )
    assert not any("MAPAPP_BASE_URL" in r.getMessage() for r in caplog.records)


def test_a_command_prints_no_production_warning(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MAPAPP_") and key != "DATABASE_URL"
    }
    env.update(
        MAPAPP_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}", MAPAPP_SECRET_KEY="k" * 32
    )
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "mapapp", "init-db"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "MAPAPP_BASE_URL" not in done.stdout + done.stderr


def test_restore_says_to_restart_the_app(app, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "copy.backup"
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    result = runner.invoke(args=["restore", "--yes", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("Now restart the app")


def test_development_without_a_key_encrypts_contacts(sqlite_url, tmp_path, monkeypatch):
    from mapapp.web import accounts

    made = []
    original = accounts.load_or_create_secret

    def in_tmp(path: Path) -> str:
        made.append(path.name)
        return original(tmp_path / path.name)

    monkeypatch.setattr(accounts, "load_or_create_secret", in_tmp)
    app = make_app(sqlite_url, CONTACT_KEY=None, TESTING=False, DEVELOPMENT=True)
    assert made == ["contact_key"]
    assert (tmp_path / "contact_key").stat().st_mode & 0o077 == 0
    rally_id = add_rally(app, status="pending", contact="@arganizatar")
    with app.app_context():
        stored = db.session().execute(
            text("SELECT contact FROM rally WHERE id = :i"), {"i": rally_id}
        )
        raw = stored.scalar_one()
    assert raw.startswith("fernet:") and "arganizatar" not in raw
    # the next start (a new process) reads it with the same key
    again = make_app(sqlite_url, CONTACT_KEY=None, TESTING=False, DEVELOPMENT=True)
    with again.app_context():
        assert db.session().execute(text("SELECT 1")).scalar_one() == 1
        from mapapp.domain.models import Rally

        assert db.session().get(Rally, rally_id).contact == "@arganizatar"
