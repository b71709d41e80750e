"""What a seized server keeps: no client address, in any form its disk could give back.

Counters and failed log-ins are keyed by a hash whose key is not on the disk
(mapapp.web.keyed); expired counters are deleted; backups copy those tables empty.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import fresh_postgres, make_app
from sqlalchemy import text
from test_sessions import PASSWORD, log_in

from mapapp import ROOT
from mapapp.channels.telegram.bot import chat_key
from mapapp.domain import db
from mapapp.web.keyed import keyed_hash

ADDRESS = "203.0.113.77"
REDIS_URL = os.environ.get("MAPAPP_TEST_REDIS_URL")


def browse_and_fail(app, monkeypatch) -> None:
    """Geocode (a limited route) until refused, and fail to log in, from ADDRESS."""
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    codes = [client.get("/api/geocode?q=Minsk").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert log_in(client, password="guess").status_code == 401


def every_form_of(address: str) -> list[bytes]:
    return [address.encode(), address.encode("utf-16-le"), address.replace(".", "").encode()]


def files_hold(paths: list[Path], needles: list[bytes]) -> list[str]:
    found = []
    for path in paths:
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {needle!r}" for needle in needles if needle in data]
    return found


def test_no_address_in_the_database_its_wal_or_a_backup(sqlite_url, tmp_path, monkeypatch):
    app = make_app(sqlite_url, GEOCODE_LIMIT="2 per minute")
    browse_and_fail(app, monkeypatch)
    with app.app_context():
        names = list(db.session().scalars(text("SELECT name FROM rate_limit")))
        failures = db.session().scalar(text("SELECT count(*) FROM login_failure"))
    assert names and failures  # counted, as they must be
    assert all(ADDRESS not in name for name in names)
    # The counter is the keyed hash of the address, with a key that is not the secret key.
    assert any(keyed_hash("address", ADDRESS, app) in name for name in names)
    backup = tmp_path / "copy.backup"
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 0
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm"), backup]
    assert files_hold(files, every_form_of(ADDRESS)) == []
    # Neither are the hashes in the backup: counters and failures are copied empty.
    with app.app_context():
        hashes = [name.encode() for name in names]
        hashes += [k.encode() for k in db.session().scalars(text("SELECT key FROM login_failure"))]
    assert hashes and files_hold([backup], hashes) == []
    app.extensions["mapapp.db"]["engine"].dispose()


def test_postgres_backup_leaves_counters_out(tmp_path, monkeypatch):
    app = make_app(fresh_postgres(), GEOCODE_LIMIT="2 per minute")
    browse_and_fail(app, monkeypatch)
    backup = tmp_path / "copy.backup"
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 0
    with app.app_context():
        hashes = [n.encode() for n in db.session().scalars(text("SELECT name FROM rate_limit"))]
    assert hashes and files_hold([backup], hashes + every_form_of(ADDRESS)) == []
    assert app.test_cli_runner().invoke(args=["restore", "--yes", str(backup)]).exit_code == 0
    app.extensions["mapapp.db"]["engine"].dispose()


def test_expired_counters_are_deleted(sqlite_url):
    app = make_app(sqlite_url, GEOCODE_LIMIT="2 per minute")
    from mapapp.web.limits import DatabaseStorage

    counters = DatabaseStorage(engine=app.extensions["mapapp.db"]["engine"])
    counters.incr("old", expiry=-1)
    counters.incr("new", expiry=60)
    counters.incr("old", expiry=60)  # meeting a stale row deletes it first
    with app.app_context():
        rows = dict(db.session().execute(text("SELECT name, count FROM rate_limit")).all())
    assert rows == {"old": 1, "new": 1}


def test_no_address_in_redis(sqlite_url):
    if not REDIS_URL:
        pytest.skip("MAPAPP_TEST_REDIS_URL is not set")
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    server.flushdb()
    app = make_app(sqlite_url, REDIS_URL=REDIS_URL, GEOCODE_LIMIT="2 per minute")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    assert [client.get("/api/geocode?q=Minsk").status_code for _ in range(3)] == [200, 200, 429]
    keys = [key.decode() for key in server.keys("*")]
    assert keys and all(ADDRESS not in key for key in keys)
    assert any(keyed_hash("address", ADDRESS, app) in key for key in keys)
    assert all(server.ttl(key) > 0 for key in keys)  # Redis deletes them when they expire


def test_the_hash_key_is_not_made_from_anything_on_the_disk(sqlite_url):
    """Two starts with the same secret key (instance/secret_key) hash differently."""
    first, second = (make_app(sqlite_url, SECRET_KEY="s" * 64) for _ in range(2))
    assert keyed_hash("address", ADDRESS, first) != keyed_hash("address", ADDRESS, second)
    with first.app_context():
        key = chat_key(12345)
    with second.app_context():
        assert chat_key(12345) != key
    # The old scheme, HMAC with the secret key, no longer finds anything.
    old = hmac.new(b"s" * 64, f"telegram-chat:{12345}".encode(), hashlib.sha256).hexdigest()
    assert key != old
    # Given in the environment, it is the same for every worker and every start.
    third, fourth = (make_app(sqlite_url, HASH_KEY="h" * 64) for _ in range(2))
    assert keyed_hash("x", "y", third) == keyed_hash("x", "y", fourth)


def test_gunicorn_master_gives_its_workers_one_key_it_never_writes():
    """gunicorn.conf.py makes the key in the master's environment, which workers inherit."""
    script = (
        "import os, runpy; os.environ.pop('MAPAPP_HASH_KEY', None);"
        "runpy.run_path('gunicorn.conf.py');"
        "print(len(os.environ['MAPAPP_HASH_KEY']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "MAPAPP_HASH_KEY"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 32
    script_kept = (
        "import os, runpy; runpy.run_path('gunicorn.conf.py');print(os.environ['MAPAPP_HASH_KEY'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script_kept],
        cwd=ROOT,
        env={**env, "MAPAPP_HASH_KEY": "given" * 8},
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "given" * 8  # one from the secrets store is kept


def test_a_short_hash_key_is_refused(sqlite_url):
    with pytest.raises(RuntimeError, match="too short"):
        make_app(sqlite_url, HASH_KEY="short")
