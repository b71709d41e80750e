"""Signed copies: the export's files and the live GeoJSON, checked with Debian's minisign."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import add_rally, make_app
from flask import Flask

from mapapp import create_app
from mapapp.publishing.signing import SigningKeyError, load_key, new_secret
from mapapp.views import feeds

MINISIGN = shutil.which("minisign") or "/usr/bin/minisign"
SECRET = new_secret()


def minisign_verifies(file: Path, public_key: Path) -> bool:
    if not Path(MINISIGN).exists():
        pytest.skip("no minisign (apt-get install minisign)")
    result = subprocess.run(  # noqa: S603 - our own arguments
        [MINISIGN, "-Vm", str(file), "-p", str(public_key)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and "Signature and comment signature verified" in result.stdout


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    app = make_app(sqlite_url, SIGNING_KEY=SECRET)
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def doctor(path: Path) -> None:
    """Move one rally by a hundredth of a degree, as a forger would."""
    document = json.loads(path.read_text(encoding="utf-8"))
    point = document["features"][0]["geometry"]["coordinates"]
    point[1] = round(point[1] + 0.01, 6)
    path.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")), "utf-8")


def test_signing_key_prints_one_line_for_the_environment(runner):
    result = runner.invoke(args=["signing-key"])
    assert result.exit_code == 0
    line = result.stdout.strip()
    assert "\n" not in line and line.startswith("MAPAPP_SIGNING_KEY=")
    key = load_key(line.removeprefix("MAPAPP_SIGNING_KEY="))
    assert len(key.public) == 32 and len(key.key_id) == 8
    assert runner.invoke(args=["signing-key"]).stdout.strip() != line  # a new key each time


def test_a_bad_key_stops_the_app_at_start(sqlite_url):
    with pytest.raises(SigningKeyError):
        create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "SIGNING_KEY": "not a key"})


def test_export_files_verify_with_minisign_and_a_doctored_copy_fails(app, tmp_path):
    add_rally(app, title="Рыба: сход", town="Гродна", lat=53.68, lon=23.83)
    out = tmp_path / "copy"
    result = app.test_cli_runner().invoke(args=["export-static", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    public_key = out / "signing.pub"
    assert public_key.read_text().startswith("untrusted comment: minisign public key ")
    for name in ("index.html", "rallies.geojson", "rallies.ics"):
        assert minisign_verifies(out / name, public_key), name
    # the public key is in the page too, for whoever has only the page
    assert load_key(SECRET).public_key_base64() in (out / "index.html").read_text("utf-8")
    doctor(out / "rallies.geojson")
    assert not minisign_verifies(out / "rallies.geojson", public_key)
    page = (out / "index.html").read_text("utf-8").replace("53.68", "53.69", 1)
    (out / "index.html").write_text(page, "utf-8")
    assert not minisign_verifies(out / "index.html", public_key)


def test_live_geojson_signature_verifies_with_the_key_on_the_about_page(app, client, tmp_path):
    about = client.get("/about?lang=en").get_data(as_text=True)
    public = load_key(SECRET).public_key_base64()
    assert public in about
    (tmp_path / "signing.pub").write_text(f"untrusted comment: from /about\n{public}\n")
    for query in ("", "?when=all&lang=ru"):
        document = client.get("/api/rallies.geojson" + query)
        signature = client.get("/api/rallies.geojson.minisig" + query)
        assert signature.status_code == 200 and signature.mimetype == "text/plain"
        assert document.headers["ETag"].strip('"') in signature.get_data(as_text=True)
        (tmp_path / "rallies.geojson").write_bytes(document.data)
        (tmp_path / "rallies.geojson.minisig").write_bytes(signature.data)
        assert minisign_verifies(tmp_path / "rallies.geojson", tmp_path / "signing.pub")
        doctor(tmp_path / "rallies.geojson")
        assert not minisign_verifies(tmp_path / "rallies.geojson", tmp_path / "signing.pub")


def test_live_calendar_signature_verifies(app, client, tmp_path):
    (tmp_path / "signing.pub").write_text(load_key(SECRET).public_key_file())
    feed = client.get("/rallies.ics?when=all&lang=be")
    signature = client.get("/rallies.ics.minisig?when=all&lang=be")
    assert signature.status_code == 200
    (tmp_path / "rallies.ics").write_bytes(feed.data)
    (tmp_path / "rallies.ics.minisig").write_bytes(signature.data)
    assert minisign_verifies(tmp_path / "rallies.ics", tmp_path / "signing.pub")
    (tmp_path / "rallies.ics").write_bytes(feed.data.replace(b"T190000", b"T200000", 1))
    assert not minisign_verifies(tmp_path / "rallies.ics", tmp_path / "signing.pub")


def test_offline_copy_signature_verifies_whichever_worker_made_it(
    app, client, sqlite_url, tmp_path, monkeypatch
):
    """/offline.html and /offline.html.minisig from two processes: the same bytes, verified."""
    # One window for the whole test: a new one starting between two requests is a new copy.
    monkeypatch.setattr(feeds, "OFFLINE_WINDOW", 10**9)
    about = client.get("/about?lang=en").get_data(as_text=True)
    assert 'href="/offline.html.minisig' in about and "rally-map-en.html.minisig" in about
    (tmp_path / "signing.pub").write_text(load_key(SECRET).public_key_file())
    other_worker = make_app(sqlite_url, SIGNING_KEY=SECRET)
    for query in ("?lang=en", "?lang=be&region=BY-HR"):
        copy = client.get("/offline.html" + query)
        signature = other_worker.test_client().get("/offline.html.minisig" + query)
        assert copy.status_code == signature.status_code == 200
        assert copy.headers["ETag"].strip('"') in signature.get_data(as_text=True)
        (tmp_path / "rally-map.html").write_bytes(copy.data)
        (tmp_path / "rally-map.html.minisig").write_bytes(signature.data)
        assert minisign_verifies(tmp_path / "rally-map.html", tmp_path / "signing.pub")
        # One rally moved a little: the check fails.
        doctored = copy.data.replace(b'"coordinates":[2', b'"coordinates":[3', 1)
        assert doctored != copy.data
        (tmp_path / "rally-map.html").write_bytes(doctored)
        assert not minisign_verifies(tmp_path / "rally-map.html", tmp_path / "signing.pub")
    other_worker.extensions["mapapp.db"]["engine"].dispose()


@pytest.mark.parametrize(
    "path",
    ["/api/rallies.geojson.minisig", "/rallies.ics.minisig?lang=en", "/offline.html.minisig"],
)
def test_a_signature_two_workers_make_has_a_weak_etag(app, client, sqlite_url, monkeypatch, path):
    """Each worker signs at its own second (the trusted comment says when): one document, one
    ETag, two signatures. A strong ETag promised the same bytes; a weak one promises the same
    document signed, and either worker's copy revalidates at the other."""
    from mapapp.publishing import signing

    monkeypatch.setattr(feeds, "OFFLINE_WINDOW", 10**9)  # one offline copy for the whole test
    other_worker = make_app(sqlite_url, SIGNING_KEY=SECRET)
    first = client.get(path)
    with monkeypatch.context() as later:
        later.setattr(signing, "time", SimpleNamespace(time=lambda: 4_000_000_000))
        second = other_worker.test_client().get(path)
    assert first.status_code == second.status_code == 200
    assert first.data != second.data and b"timestamp:4000000000" in second.data
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["ETag"].startswith('W/"')
    held = {"If-None-Match": first.headers["ETag"]}
    assert other_worker.test_client().get(path, headers=held).status_code == 304
    other_worker.extensions["mapapp.db"]["engine"].dispose()


def test_without_a_key_nothing_claims_to_be_signed(sqlite_url, tmp_path):
    app = make_app(sqlite_url)
    client = app.test_client()
    assert client.get("/api/rallies.geojson.minisig").status_code == 404
    assert client.get("/rallies.ics.minisig").status_code == 404
    assert client.get("/offline.html.minisig").status_code == 404
    assert "does not sign" in client.get("/about?lang=en").get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["export-static", str(tmp_path / "copy")])
    assert result.exit_code == 0
    assert "Not signed" in result.output
    assert not (tmp_path / "copy" / "signing.pub").exists()
    app.extensions["mapapp.db"]["engine"].dispose()
