"""The OpenAPI document, and Schemathesis checking the app against it."""

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from conftest import add_rally, make_app
from hypothesis import settings

from mapapp.places.regions import REGION_CODES
from mapapp.publishing import openapi


def test_openapi_document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document == openapi.document("http://localhost")
    assert document["openapi"].startswith("3.1")
    assert {
        "/api/rallies.geojson",
        "/api/rallies/{id}",
        "/api/geocode",
        "/api/reverse",
        "/healthz",
    } <= set(document["paths"])
    geojson = document["paths"]["/api/rallies.geojson"]["get"]
    params = {p["name"]: p["schema"] for p in geojson["parameters"]}
    assert params["region"]["enum"] == list(REGION_CODES)
    assert params["when"]["enum"] == ["upcoming", "past", "all"]
    assert params["from"]["format"] == params["to"]["format"] == "date"
    assert params["city"]["maxLength"] == 120
    assert params["lang"]["enum"] == ["be", "ru", "en"]
    geocode = document["paths"]["/api/geocode"]["get"]
    assert set(geocode["responses"]) == {"200", "400", "404", "429"}
    assert set(document["paths"]["/api/reverse"]["get"]["responses"]) >= {"200", "400", "404"}
    operations = [op for path in document["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) == len(operations)
    assert document["info"]["license"]["identifier"] == "MIT"
    assert document["servers"] == [{"url": "http://localhost"}]
    assert document["security"] == []  # public: no credentials (redocly's security-defined)
    for path, methods in document["paths"].items():
        names = {p["name"] for p in methods["get"].get("parameters", [])}
        if path.startswith(("/rallies", "/api/rallies")):
            # every route that takes ?lang= declares it, and the 400 an unknown one gets
            assert "lang" in names and "400" in methods["get"]["responses"], path


def test_openapi_servers_name_the_site(sqlite_url):
    app = make_app(sqlite_url, BASE_URL="https://rallies.example/map")
    document = app.test_client().get("/api/openapi.json").get_json()
    assert document["servers"] == [{"url": "https://rallies.example/map"}]
    app.extensions["mapapp.db"]["engine"].dispose()
    app = make_app(sqlite_url)
    document = app.test_client().get("/api/openapi.json", base_url="http://127.0.0.1/mirror/")
    assert document.get_json()["servers"] == [{"url": "http://127.0.0.1/mirror"}]
    app.extensions["mapapp.db"]["engine"].dispose()


def test_documented_paths_exist(app):
    routes = {rule.rule.replace("<int:rally_id>", "{id}") for rule in app.url_map.iter_rules()}
    document = app.test_client().get("/api/openapi.json").get_json()
    assert set(document["paths"]) <= routes


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):  # noqa: ANN001, ANN201
    """One app for all the generated requests: seeded, and with a limit they never reach."""
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'test.sqlite3'}"
    # With a signing key, so the signatures' routes answer (and check their parameters) too.
    from mapapp.publishing.signing import new_secret

    app = make_app(url, GEOCODE_LIMIT="10000 per minute", SIGNING_KEY=new_secret())
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    starts = datetime(2099, 5, 1, 16, tzinfo=UTC)
    add_rally(app, status="cancelled", starts_at=starts, ends_at=starts + timedelta(hours=1))
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


# The document is plain data, so it loads without an app (test_openapi_document checks that
# the app serves this very document). Not schemathesis.pytest.from_fixture: it sets a private
# attribute that pytest 9 no longer has.
schema = schemathesis.openapi.from_dict(openapi.document())


@schema.hook
def filter_query(ctx, query):  # noqa: ANN001, ANN201
    """The one rule the document states in words only: `from` not after `to` (else a 400).
    And no array or object as a parameter's value: a query string carries text only, and
    Schemathesis sent an empty array as the text "[]", which is a valid town name (the
    pattern allows brackets), then called its acceptance a schema-violating request accepted
    (in one run of many: city=[] answered 200, as it should)."""
    values = (query or {}).values()
    if any(isinstance(value, (list, dict)) for value in values):
        return False
    first, last = (query or {}).get("from"), (query or {}).get("to")
    return not (
        isinstance(first, str) and isinstance(last, str) and first and last and first > last
    )


@schema.parametrize()
@settings(max_examples=25, deadline=None)
def test_api_conforms_to_its_openapi_document(case, fuzzed_app):  # noqa: ANN001
    """Every one of Schemathesis' checks: no 5xx; statuses, content types, headers and bodies
    as documented; schema-breaking input refused with a 4xx; every schema-valid request
    accepted; an undeclared method answered 405 with Allow."""
    case.call_and_validate(
        app=fuzzed_app,
        # The WSGI client does not undo gzip, which the GeoJSON uses when it is accepted.
        headers={"Accept-Encoding": "identity"},
    )


@pytest.mark.parametrize(
    ("path", "url", "status"),
    [
        ("/api/rallies.geojson", "/api/rallies.geojson?when=all", 200),
        ("/api/rallies.geojson", "/api/rallies.geojson?from=2099-13-01", 400),
        ("/api/rallies/{id}", "/api/rallies/1", 200),  # the main rally, no end
        ("/api/rallies/{id}", "/api/rallies/14", 200),  # cancelled, with an end
        ("/api/rallies/{id}", "/api/rallies/424242", 404),
        ("/api/geocode", "/api/geocode?q=Kastrychnitskaya", 200),
        ("/api/geocode", "/api/geocode?q=площадь Победы&lang=ru", 200),  # with alternatives
        ("/api/geocode", "/api/geocode?q=вул. Савецкая, 12, Гродна", 200),
        ("/api/geocode", "/api/geocode?q=Atlantis", 404),
        ("/api/geocode", "/api/geocode?q=%20", 400),
        ("/api/reverse", "/api/reverse?lat=53.678&lon=23.83", 200),
        ("/api/reverse", "/api/reverse?lat=52.52&lon=13.40", 404),
        ("/api/rallies.geojson", "/api/rallies.geojson?from=2030-01-02&to=2030-01-01", 400),
        ("/oembed", "/oembed?url=http://localhost/rallies/1", 200),
        ("/oembed", "/oembed?url=http://localhost/?lang=en&list=1&maxwidth=300", 200),
        ("/oembed", "/oembed?url=http://localhost/submit", 404),
        ("/oembed", "/oembed?url=http://localhost/&format=xml", 501),
        ("/oembed", "/oembed?url=http://localhost/&maxwidth=wide", 400),
        ("/api/reverse", "/api/reverse?lat=north", 400),
        ("/healthz", "/healthz", 200),
        # lang is be|ru|en on the feeds and their signatures too, as declared
        ("/rallies.ics", "/rallies.ics?lang=xx", 400),
        ("/rallies.ics", "/rallies.ics?lang=en", 200),
        ("/rallies.csv", "/rallies.csv?lang=-58800", 400),
        ("/rallies.ics.minisig", "/rallies.ics.minisig?lang=-58800", 400),
        ("/rallies/{id}.ics", "/rallies/1.ics?lang=de", 400),
        ("/rallies/{id}.ics", "/rallies/1.ics?lang=ru", 200),
        ("/rallies.ics", "/rallies.ics?from=2000-01-01&to=1911-03-12", 400),
    ],
)
def test_real_answers_match_the_document(fuzzed_app, path, url, status):  # noqa: ANN001
    """Answers the fuzzer may not reach, such as a rally that exists or a place with near-ties."""
    response = fuzzed_app.test_client().get(url)
    assert response.status_code == status
    schema[path]["GET"].validate_response(response)


REDOCLY = Path(__file__).parent / "redocly" / "node_modules" / ".bin" / "redocly"


def test_redocly_lint_is_clean(tmp_path):
    """Partners' tools read the document without an error or a warning (recommended rules)."""
    if not REDOCLY.exists():
        if os.environ.get("MAPAPP_TEST_STRICT") == "1":
            pytest.fail("npm ci --prefix tests/redocly (make test does it)")
        pytest.skip("Redocly is not installed (make test runs npm ci in tests/redocly)")
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(openapi.document("https://rallies.example")))
    done = subprocess.run(  # noqa: S603 - our own arguments
        [str(REDOCLY), "lint", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Your API description is valid" in output and "You have" not in output, output
