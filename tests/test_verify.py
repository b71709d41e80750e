"""A trust path for copies: the key's fingerprint in the copy, on /about and /verify, and
/verify checking a file and its .minisig in Chromium (WebCrypto's Ed25519, BLAKE2b in JS)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from conftest import browser_app, wait_until
from flask import Flask

from mapapp.publishing.signing import load_key, new_secret

SECRET = new_secret()
KEY = load_key(SECRET)


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url, SIGNING_KEY=SECRET)
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def test_the_fingerprint_is_on_about_verify_and_in_the_copy(app, client, tmp_path):
    fingerprint = KEY.fingerprint
    assert len(fingerprint.split()) == 8 and hashlib.sha256(
        KEY.public
    ).hexdigest().upper().startswith(fingerprint.replace(" ", ""))
    assert fingerprint in client.get("/about?lang=en").get_data(as_text=True)
    assert 'href="/verify?lang=en"' in client.get("/about?lang=en").get_data(as_text=True)
    assert fingerprint in client.get("/verify?lang=en").get_data(as_text=True)
    copy = client.get("/offline.html?lang=en").get_data(as_text=True)
    assert fingerprint in copy and "http://localhost/verify" in copy
    out = tmp_path / "copy"
    assert app.test_cli_runner().invoke(args=["export-static", str(out)]).exit_code == 0
    assert fingerprint in (out / "index.html").read_text("utf-8")


def test_verify_without_a_key_says_so(sqlite_url):
    app = browser_app(sqlite_url)
    page = app.test_client().get("/verify?lang=en").get_data(as_text=True)
    assert "This site does not sign its data." in page


@pytest.mark.browser
def test_verify_checks_a_dropped_copy_in_the_browser(browser, live_server, client, tmp_path):
    copy = client.get("/offline.html?lang=en")
    signature = client.get("/offline.html.minisig?lang=en")
    assert copy.status_code == signature.status_code == 200
    original = tmp_path / "rally-map-en.html"
    original.write_bytes(copy.get_data())
    minisig = tmp_path / "rally-map-en.html.minisig"
    minisig.write_bytes(signature.get_data())
    forged = tmp_path / "forged" / "rally-map-en.html"
    forged.parent.mkdir()
    forged.write_bytes(copy.get_data().replace(b"53.9", b"53.8", 1))

    page = browser.new_page()
    requested, errors = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_server + "/verify?lang=en")
    # BLAKE2b as Python's hashlib has it, at the edges of its 128-byte blocks
    for size in (0, 1, 127, 128, 129, 256, 1000, 100_003):
        data = os.urandom(size)
        ours = page.evaluate("b => Array.from(RallyBlake2b(new Uint8Array(b)))", list(data))
        assert bytes(ours) == hashlib.blake2b(data, digest_size=64).digest(), size

    page.set_input_files("#verify-files", [str(original), str(minisig)])
    wait_until(page, "document.getElementById('verify-result').textContent !== ''", timeout=30)
    result = page.locator("#verify-result")
    assert result.inner_text().startswith("Genuine: the file is exactly as this site signed it.")
    assert "file:rally-map-en.html" in result.inner_text()  # the signed comment

    page.evaluate("document.getElementById('verify-result').textContent = ''")
    page.set_input_files("#verify-files", [str(forged), str(minisig)])
    wait_until(page, "document.getElementById('verify-result').textContent !== ''", timeout=30)
    assert result.inner_text().startswith("Not genuine")
    assert page.locator("#verify-result.verify-bad").count() == 1
    # the files went nowhere
    assert [url for url in requested if not url.startswith(live_server)] == []
    assert not any("POST" in url for url in requested)
    assert errors == []
    page.close()


def test_the_command_line_names_the_file_in_the_pages_language(client):
    page = client.get("/verify?lang=be").get_data(as_text=True)
    assert "minisign -Vm ФАЙЛ -P" in page and "FILE" not in page
