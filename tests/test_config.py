from mapapp import create_app
from mapapp.config import from_environ


def test_environment_overrides_defaults(monkeypatch, sqlite_url):
    monkeypatch.setenv("MAPAPP_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png")
    monkeypatch.setenv("MAPAPP_CACHE_SECONDS", "7")
    app = create_app({"DATABASE_URL": sqlite_url})
    assert app.config["TILE_URL"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    assert app.config["CACHE_SECONDS"] == 7


def test_test_config_wins_over_environment(monkeypatch, sqlite_url):
    monkeypatch.setenv("MAPAPP_GEOCODER", "nominatim")
    app = create_app({"DATABASE_URL": sqlite_url, "GEOCODER": "offline"})
    assert app.config["GEOCODER"] == "offline"


def test_plain_database_url_is_accepted():
    found = from_environ({"DATABASE_URL": "postgres://u@h/db"})
    assert found["DATABASE_URL"] == "postgres://u@h/db"
    assert from_environ({"MAPAPP_DATABASE_URL": "sqlite:///x"})["DATABASE_URL"] == "sqlite:///x"


def test_default_database_is_sqlite_in_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("MAPAPP_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["DATABASE_URL"].startswith("sqlite:///")
    assert app.config["DATABASE_URL"].endswith("instance/mapapp.sqlite3")
