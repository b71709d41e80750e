"""The production install: a wheel built from a clean checkout works from anywhere.

Builds the wheel from the files git tracks (no .venv, no compiled .mo, no instance/),
installs it into a fresh virtual environment, then runs `init-db` and gunicorn from an
empty directory and reads every page in every language. Slow (a minute): it is the only
test that sees the app as `pip install '.[postgres,redis]'` gives it.
"""

from __future__ import annotations

import html
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from mapapp.places.locale import LANGUAGES
from mapapp.web.i18n import TRANSLATIONS

REPO = Path(__file__).resolve().parent.parent
# Pages for people (HTML), each read in every language; /rallies/1 is a seed rally.
PAGES = (
    "/",
    "/rallies",
    "/rallies?when=past",
    "/rallies/1",
    "/submit",
    "/embed",
    "/embed/code",
    "/moderate/login",
    "/rallies/999999",  # the 404 page
)
# Text in each page that must be translated (in base.html or the embed's own page).
SHARED_TEXT = {"/embed": "Map of rallies"}
BASE_TEXT = "Skip to content"


def clean_checkout(target: Path) -> Path:
    """The files git tracks, as a fresh clone has them (working-tree content)."""
    git = shutil.which("git") or "git"
    listed = subprocess.run([git, "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.fail(f"not a git checkout: {listed.stderr.decode()}")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


def run(*args: str | Path, cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def translation(lang: str, msgid: str) -> str:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as source:
        message = read_po(source)[msgid]
    assert message is not None and message.string, f"{msgid!r} has no {lang} translation"
    return message.string


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:  # noqa: ANN001
    """(the fresh venv, the wheel) from a clean checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = clean_checkout(work / "src")
    assert not list(source.rglob("*.mo")), "a clean checkout has no compiled catalogues"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work / "dist",
        source, cwd=work)  # fmt: skip
    (wheel,) = (work / "dist").glob("mapapp-*.whl")
    run(sys.executable, "-m", "venv", work / "venv", cwd=work)
    run(work / "venv/bin/python", "-m", "pip", "install", "--quiet", f"{wheel}[postgres,redis]",
        cwd=work)  # fmt: skip
    return work / "venv", wheel


def test_the_wheel_carries_data_templates_and_catalogues(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for tracked in ("data/places.json", "data/seed_rallies.json", "templates/base.html"):
        assert f"mapapp/{tracked}" in names
    for lang in LANGUAGES:
        assert f"mapapp/translations/{lang}/LC_MESSAGES/messages.mo" in names
    assert not any(name.startswith(("data/", "templates/", "tests/")) for name in names)


def test_the_installed_wheel_carries_gunicorns_settings(installed, tmp_path):
    """Outside a checkout there is no gunicorn.conf.py: the package's settings are read by name
    (as deploy/mapapp.service does), with the logger that writes no address or query."""
    venv, _ = installed
    printed = run(venv / "bin/gunicorn", "--print-config", "-c", "python:mapapp.web.gunicorn_conf",
                  "mapapp:create_app()", cwd=tmp_path, env={**os.environ, "MAPAPP_THREADS": "7"})  # fmt: skip
    settings = dict(
        (line.split("=", 1)[0].strip(), line.split("=", 1)[1].strip())
        for line in printed.splitlines()
        if "=" in line
    )
    assert settings["logger_class"] == "mapapp.web.logs.GunicornLogger"
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == "7"


def test_the_installed_wheel_serves_every_page_in_every_language(installed, tmp_path):
    venv, _ = installed
    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing found by accident
    elsewhere.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "MAPAPP_SECRET_KEY": "wheel-test-" + "k" * 40,
        "MAPAPP_DATABASE_URL": f"sqlite:///{tmp_path / 'mapapp.sqlite3'}",
        "MAPAPP_TILE_PROXY": "0",
    }
    run(venv / "bin/flask", "--app", "mapapp", "init-db", cwd=elsewhere, env=env)
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [venv / "bin/gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "mapapp:create_app()"],
        cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if fetch(base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not answer")
        for lang in LANGUAGES:
            for path in PAGES:
                sep = "&" if "?" in path else "?"
                status, page = fetch(f"{base}{path}{sep}lang={lang}")
                assert status == (404 if path == "/rallies/999999" else 200), (path, lang)
                assert f'<html lang="{lang}"' in page, (path, lang)
                expected = translation(lang, SHARED_TEXT.get(path, BASE_TEXT))
                assert html.escape(expected, quote=False) in page, (path, lang, expected)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "Traceback" not in errors.decode()


def test_an_offered_language_without_a_catalogue_stops_the_app(tmp_path):
    from mapapp import create_app
    from mapapp.web.i18n import MissingCatalogueError

    for lang in ("be", "en"):  # ru left without one
        (tmp_path / lang / "LC_MESSAGES").mkdir(parents=True)
        (tmp_path / lang / "LC_MESSAGES" / "messages.mo").write_bytes(
            (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").read_bytes()
        )
    with pytest.raises(MissingCatalogueError, match="ru"):
        create_app({"TESTING": True, "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path)})
