"""The installable web app over HTTP: the service worker's address, headers and libraries
(the app's own Workbox, no CDN), the manifest, and what pages say to it."""

import json
import re

from conftest import add_rally

from mapapp.paths import STATIC_DIR

WORKBOX = STATIC_DIR / "vendor" / "workbox"


def test_the_worker_is_served_from_the_root_with_its_own_policy(client, app):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'"
    )
    # Under a path prefix it moves with the site (its scope is the prefix).
    prefixed = client.get("/sw.js", base_url="http://localhost/mirror/")
    assert prefixed.status_code == 200
    page = client.get("/?lang=en", base_url="http://localhost/mirror/").get_data(as_text=True)
    assert 'data-worker="/mirror/sw.js" data-scope="/mirror/" data-health="/mirror/healthz"' in page
    manifest = json.loads(
        client.get("/manifest.webmanifest", base_url="http://localhost/mirror/").data
    )
    assert manifest["scope"] == "/mirror/" and manifest["start_url"].startswith("/mirror/?")


def test_workbox_is_the_apps_own_copy(client, app):
    script = client.get("/sw.js").get_data(as_text=True)
    assert 'importScripts(BASE + "/static/vendor/workbox/workbox-sw.js")' in script
    assert 'modulePathPrefix: BASE + "/static/vendor/workbox/"' in script
    assert "debug: false" in script  # else workbox-sw asks for the .dev.js files
    assert "googleapis" not in script and "https://" not in script
    used = set(
        re.findall(r"workbox\.(core|routing|strategies|expiration|cacheableResponse)\.", script)
    )
    names = {"cacheableResponse": "cacheable-response"}
    for module in used:
        path = f"vendor/workbox/workbox-{names.get(module, module)}.prod.js"
        assert (STATIC_DIR / path).is_file(), path
        served = client.get(f"/static/{path}")
        assert served.status_code == 200 and served.mimetype == "text/javascript"
        assert served.get_data() == (STATIC_DIR / path).read_bytes()
        served.close()
    assert len(used) == 5
    assert "Copyright 2018 Google LLC" in (WORKBOX / "LICENSE").read_text()
    assert (
        "MIT" in (WORKBOX / "LICENSE").read_text()
        or "Permission is hereby granted" in (WORKBOX / "LICENSE").read_text()
    )


def test_the_manifest_makes_it_installable_in_each_language(client, app):
    response = client.get("/manifest.webmanifest?lang=ru")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["name"] == "Карта акций в Беларуси" and manifest["lang"] == "ru"
    assert manifest["start_url"] == "/?lang=ru" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone" and manifest["short_name"]
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        width = int.from_bytes(image.get_data()[16:20], "big")
        image.close()
        assert f"{width}x{width}" == icon["sizes"]
    english = json.loads(client.get("/manifest.webmanifest?lang=en").data)
    assert english["name"] == "Rally map of Belarus"


def test_pages_name_the_manifest_and_may_use_it(client, app):
    rally_id = add_rally(app)
    for path in ("/", "/rallies", f"/rallies/{rally_id}", "/about"):
        response = client.get(path + "?lang=en")
        page = response.get_data(as_text=True)
        assert '<link rel="manifest" href="/manifest.webmanifest?lang=en">' in page
        assert '<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png?v=' in page
        assert 'id="offline-note" role="status" hidden' in page
        policy = response.headers["Content-Security-Policy"]
        assert "manifest-src 'self'" in policy and "worker-src 'self'" in policy


def test_a_page_with_a_personal_message_is_never_stored(client, app):
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "Your rally was sent to the moderators.")]
    response = client.get("/?lang=en")
    assert "Your rally was sent" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/?lang=en").headers.get("Cache-Control") != "no-store"


def test_the_worker_keeps_nothing_private():
    script = (STATIC_DIR / "sw.js").read_text()
    pages = re.search(r"var PAGES = /(.+)/;", script).group(1)
    data = re.search(r"var DATA = /(.+)/;", script).group(1)
    for path in ("/", "/rallies", "/rallies/12", "/about"):
        assert re.match(pages, path), path
    assert re.match(data, "/api/rallies.geojson") and re.match(data, "/api/rallies/12")
    for private in ("/manage/abc", "/moderate", "/moderate/log", "/submit", "/submit/done"):
        assert not re.match(pages, private) and not re.match(data, private), private
    assert "no-store|private" in script  # answers marked so are never stored


def test_about_offers_to_forget_the_site(client, app):
    page = client.get("/about?lang=en").get_data(as_text=True)
    assert '<button type="button" id="forget-site" hidden' in page
    assert "Forget this site on this phone" in page


def test_forget_clears_the_browsers_http_cache_too_when_our_page_asks(client, app):
    """A script cannot empty the browser's HTTP cache (pages kept by their Cache-Control):
    the button asks the site, whose answer's Clear-Site-Data does; another site cannot."""
    page = client.get("/about?lang=en").get_data(as_text=True)
    assert 'data-forget="/forget"' in page
    ours = client.post("/forget", headers={"Sec-Fetch-Site": "same-origin"})
    assert ours.status_code == 204
    assert ours.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert "no-store" in ours.headers["Cache-Control"]
    for site in ("cross-site", "same-site", None):
        other = client.post("/forget", headers={"Sec-Fetch-Site": site} if site else {})
        assert other.status_code == 403 and "Clear-Site-Data" not in other.headers
