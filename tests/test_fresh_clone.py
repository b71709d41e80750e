"""`make serve` from a fresh clone with PostgreSQL and Redis settings, as an operator runs it:
its own .venv, the extras the settings need installed (deploy/extras.py), the schema migrated,
nginx and gunicorn started and the address printed that answers.

The clone is the working tree's files (what `git ls-files` lists, with uncommitted changes),
in a new git repository outside it; it needs the PostgreSQL and Redis of the other tests
(MAPAPP_TEST_DATABASE_URL, MAPAPP_TEST_REDIS_URL) and gets its own new database. pip reads
its usual cache, so the install takes about a minute, not the download.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_serve import free_port, get

from mapapp.domain import db

ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"Serving on (http://\S+/) ")


def settings_or_fail() -> tuple[str, str]:
    database, redis = (
        os.environ.get("MAPAPP_TEST_DATABASE_URL"),
        os.environ.get("MAPAPP_TEST_REDIS_URL"),
    )
    if not (database and redis and database.startswith("postgres")):
        message = "MAPAPP_TEST_DATABASE_URL (PostgreSQL) and MAPAPP_TEST_REDIS_URL are needed"
        if os.environ.get("MAPAPP_TEST_STRICT") == "1" or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.fail("nginx is not installed (apt-get install nginx-light)")
    return database, redis


def clone_working_tree(target: Path) -> None:
    """The project's files as a fresh clone has them: tracked and new files, nothing ignored
    (no .venv, instance/, compiled catalogues or node_modules)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)  # noqa: S607


@pytest.fixture
def new_database():  # noqa: ANN201
    """A PostgreSQL database made for this test on the test server, dropped after it."""
    database, _ = settings_or_fail()
    server = make_url(db.normalise_url(database))
    name = f"mapapp_fresh_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    yield url.replace("postgresql+psycopg://", "postgresql://", 1)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_make_serve_from_a_fresh_clone_with_postgresql_and_redis(tmp_path, new_database):
    _, redis = settings_or_fail()
    clone = tmp_path / "clone"
    clone_working_tree(clone)
    assert not (clone / ".venv").exists() and not (clone / "instance").exists()
    env = {
        name: value
        for name, value in os.environ.items()
        # Nothing of the test's own environment: its interpreter, its code, its settings.
        if not name.startswith(("MAPAPP_", "PYTHON", "VIRTUAL_ENV", "FLASK_"))
    }
    env["PATH"] = ":".join(
        part for part in env.get("PATH", "").split(":") if ".venv" not in part
    )  # a fresh shell: no virtual environment on the PATH
    env |= {
        "MAPAPP_DATABASE_URL": new_database,
        "MAPAPP_REDIS_URL": redis,
        "MAPAPP_SECRET_KEY": secrets.token_hex(16),
        "MAPAPP_TILE_PROXY": "0",
        "WEB_CONCURRENCY": "2",
    }
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        make = subprocess.Popen(
            ["make", "serve", f"PORT={port}"],  # noqa: S607
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 420
        while not (found := SERVING.search(log.read_text())):
            assert make.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        address = found.group(1)
        assert address == f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(address + "healthz", 2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        output = log.read_text()
        # The settings' extras were missing from the new .venv and were installed.
        assert "Installing what the settings need: .[postgres,redis]" in output
        python = clone / ".venv" / "bin" / "python"
        subprocess.run([python, "-c", "import psycopg, redis"], check=True, cwd=tmp_path)
        assert "ModuleNotFoundError" not in output and "Traceback" not in output
        # A clean start: no build backend's warnings (setuptools' editable-install notice).
        assert "Warning:" not in output.replace("Warning: MAPAPP_", ""), output[-3000:]
        # The schema is migrated in the new database and the seed rallies are served from it.
        status, _, body = get(address + "api/rallies.geojson?when=all")
        assert status == 200 and b"FeatureCollection" in body
        engine = create_engine(db.normalise_url(new_database))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            rallies = connection.scalar(text("SELECT count(*) FROM rally"))
        engine.dispose()
        assert rallies > 0 and body.count(b'"Feature"') == rallies
        status, headers, body = get(address, headers={"Accept-Language": "be"})
        assert status == 200 and headers["Server"] == "nginx" and b'lang="be"' in body
        # A form page works through the stack (its session and limits are in Redis).
        assert get(address + "submit")[0] == 200
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
            try:
                make.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()
    # SIGTERM stops nginx and gunicorn: nothing answers on the port any more.
    with pytest.raises(OSError):
        get(address + "healthz", 2)
