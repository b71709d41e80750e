"""Several app servers on one PostgreSQL: a change made on one is served at once by the other.

Two gunicorn masters on two ports share the database; a moderator approves on the first, and
the second's very next GeoJSON response holds the rally (no timer, no restart).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from conftest import fresh_postgres

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "a long passphrase"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, process: subprocess.Popen) -> None:
    for _ in range(150):
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not come up")


@pytest.fixture
def servers(tmp_path):
    url = fresh_postgres()
    env = {
        **os.environ,
        "MAPAPP_DATABASE_URL": url,
        "MAPAPP_SECRET_KEY": "scale-out test key",
        "MAPAPP_DEVELOPMENT": "1",  # plain HTTP: session cookies without Secure
        "MAPAPP_MODERATOR_PASSWORD": PASSWORD,
        "WEB_CONCURRENCY": "2",
    }
    env.pop("MAPAPP_REDIS_URL", None)  # the database alone must carry the change
    flask = [str(BIN / "flask"), "--app", "mapapp"]
    for command in (["init-db"], ["create-moderator", "mod"]):
        subprocess.run(flask + command, env=env, cwd=tmp_path, check=True, capture_output=True)  # noqa: S603
    processes, bases = [], []
    for _ in range(2):
        port = free_port()
        process = subprocess.Popen(  # noqa: S603
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "mapapp:create_app()"],
            env={**env, "PORT": str(port)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base, process in zip(bases, processes, strict=True):
            wait_until_up(base, process)
        yield url, bases
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()


def rally_ids(base: str) -> set[int]:
    with urllib.request.urlopen(base + "/api/rallies.geojson?when=all") as answer:  # noqa: S310
        return {feature["id"] for feature in json.load(answer)["features"]}


def test_an_approval_on_one_server_is_served_by_the_other_at_once(servers, tmp_path):
    url, (first, second) = servers
    day = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%dT19:00")
    csv = tmp_path / "rally.csv"
    csv.write_text(
        "title,city,place,starts_at,description,lat,lon,status,contact\n"
        f"Пікет на плошчы Леніна,Гомель,Плошча Леніна,{day},Прыходзьце.,,,pending,\n",
        encoding="utf-8",
    )
    env = {**os.environ, "MAPAPP_DATABASE_URL": url, "MAPAPP_SECRET_KEY": "scale-out test key"}
    done = subprocess.run(  # noqa: S603
        [str(BIN / "flask"), "--app", "mapapp", "import-rallies", str(csv)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr

    # A moderator logs in on the first server and finds the pending rally.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    login = opener.open(first + "/moderate/login").read().decode()
    form = {"csrf_token": CSRF.search(login).group(1), "name": "mod", "password": PASSWORD}
    queue = opener.open(first + "/moderate/login", urllib.parse.urlencode(form).encode()).read()
    rally_id = int(re.search(r"/moderate/rallies/(\d+)", queue.decode()).group(1))
    token = CSRF.search(queue.decode()).group(1)

    # Both servers have built and cached their GeoJSON without the pending rally.
    for _ in range(3):
        assert rally_id not in rally_ids(first)
        assert rally_id not in rally_ids(second)

    approve = f"{first}/moderate/rallies/{rally_id}/approve"
    opener.open(approve, urllib.parse.urlencode({"csrf_token": token}).encode()).read()

    # The second server's very next answer holds it, from each of its workers.
    for _ in range(4):
        assert rally_id in rally_ids(second)
