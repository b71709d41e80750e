"""Signed copies say what they are: which rallies (the filter) and as of when.

A hostile mirror could pass a genuine, signed copy of one town, or of an empty date range,
off as the whole map. The signature's trusted comment (which minisign verifies and prints)
names the filter and the moment; the offline copy says both where people read it, and warns
of its age sooner when rallies in it start soon.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import add_rally, make_app
from test_signing import MINISIGN, minisign_verifies

from mapapp.publishing.signing import load_key, new_secret

SECRET = new_secret()


def signed_app(sqlite_url: str):  # noqa: ANN201
    return make_app(sqlite_url, SIGNING_KEY=SECRET)


def trusted_comment(signature: str) -> str:
    return next(line for line in signature.splitlines() if line.startswith("trusted comment: "))


def verify(tmp_path: Path, name: str, body: bytes, signature: str) -> str:
    """minisign's verdict on body and signature; returns its output (the trusted comment)."""
    public = tmp_path / "signing.pub"
    public.write_text(load_key(SECRET).public_key_file())
    (tmp_path / name).write_bytes(body)
    (tmp_path / f"{name}.minisig").write_text(signature)
    assert minisign_verifies(tmp_path / name, public)
    done = subprocess.run(
        [MINISIGN, "-Vm", str(tmp_path / name), "-p", str(public)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_a_regional_offline_copy_says_so_visibly_and_in_its_signature(sqlite_url, tmp_path):
    app = signed_app(sqlite_url)
    add_rally(app, title="In Hrodna", town="Гродна", region="BY-HR", lat=53.68, lon=23.83)
    client = app.test_client()
    body = client.get("/offline.html?region=BY-HR&lang=en").data
    text = body.decode()
    assert "Only rallies in Hrodna Region." in text
    assert "Only upcoming rallies." in text
    assert "This copy of the map was made on" in text
    signature = client.get("/offline.html.minisig?region=BY-HR&lang=en").get_data(as_text=True)
    comment = trusted_comment(signature)
    assert "\tfilter:region=BY-HR" in comment
    made = re.search(r"\tmade:(\S+Z)", comment).group(1)
    made_at = datetime.strptime(made, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - made_at) < timedelta(minutes=11)  # its 10-minute window
    assert "filter:region=BY-HR" in verify(tmp_path, "rally-map-en.html", body, signature)


def test_the_whole_map_says_it_is_whole(sqlite_url):
    app = signed_app(sqlite_url)
    text = app.test_client().get("/offline.html?lang=be").get_data(as_text=True)
    assert "Усе будучыя акцыі ў Беларусі." in text
    signature = app.test_client().get("/offline.html.minisig?lang=be").get_data(as_text=True)
    assert "\tfilter:all-upcoming" in trusted_comment(signature)


def test_an_empty_signed_feed_names_its_filter(sqlite_url, tmp_path):
    app = signed_app(sqlite_url)
    add_rally(app)
    client = app.test_client()
    query = "?from=2999-12-31"
    body = client.get(f"/api/rallies.geojson{query}", headers={"Accept-Encoding": ""}).data
    signature = client.get(f"/api/rallies.geojson.minisig{query}").get_data(as_text=True)
    assert "filter:from=2999-12-31" in verify(tmp_path, "rallies.geojson", body, signature)
    assert "\tmade:" in trusted_comment(signature)
    ics = client.get(f"/rallies.ics.minisig{query}").get_data(as_text=True)
    assert "\tfilter:from=2999-12-31" in trusted_comment(ics)
    text = client.get(f"/offline.html{query}&lang=ru").get_data(as_text=True)
    assert "Только акции с 31 декабря 2999\u202fг." in text


def test_a_copy_with_rallies_starting_soon_warns_after_an_hour(sqlite_url):
    app = signed_app(sqlite_url)
    soon = datetime.now(UTC) + timedelta(hours=20)
    add_rally(app, title="Soon", starts_at=soon, ends_at=soon + timedelta(hours=2))
    text = app.test_client().get("/offline.html?lang=en").get_data(as_text=True)
    assert 'data-stale="3600"' in text and "more than an hour old" in text


def test_a_copy_of_later_rallies_warns_after_a_day(sqlite_url):
    app = signed_app(sqlite_url)
    add_rally(app)  # next year
    text = app.test_client().get("/offline.html?lang=en").get_data(as_text=True)
    assert 'data-stale="86400"' in text and "more than a day old" in text


def test_export_static_signatures_name_the_filter(sqlite_url, tmp_path):
    app = signed_app(sqlite_url)
    add_rally(app, region="BY-HR", town="Гродна", lat=53.68, lon=23.83)
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=["export-static", str(out), "--region", "BY-HR"])
    assert result.exit_code == 0, result.output
    for name in ("index.html", "rallies.geojson", "rallies.ics"):
        comment = trusted_comment((out / f"{name}.minisig").read_text())
        assert "\tfilter:region=BY-HR" in comment and "\tmade:" in comment, name
