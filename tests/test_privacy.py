"""An organizer's contact and manage token never reach a public response."""

import pytest
from conftest import add_rally

from mapapp.domain.lifecycle import hash_token
from mapapp.domain.models import Status

CONTACT = "private-organizer-contact@example.org"


def public_urls(ids):
    urls = ["/", "/rallies", "/rallies?when=all", "/api/rallies.geojson?when=all"]
    urls += [
        "/api/rallies.geojson?when=all&lang=ru",
        "/rallies.ics?when=all",
        "/rallies.csv?when=all",
    ]
    for rally_id in ids:
        urls += [f"/rallies/{rally_id}", f"/api/rallies/{rally_id}", f"/rallies/{rally_id}.ics"]
    return urls


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_contact_and_token_in_no_public_response(client, app, lang):
    ids = [
        add_rally(app, contact=CONTACT, manage_token_hash=hash_token("tok-a")),
        add_rally(app, contact=CONTACT, status=Status.CANCELLED.value),
        add_rally(app, contact=CONTACT, status=Status.PENDING.value),
    ]
    checked = 0
    for url in public_urls(ids):
        response = client.get(url, headers={"Accept-Language": lang})
        if response.status_code == 404 and url.endswith((".ics", ".csv")):
            continue  # feeds of a pending rally (or feeds not there) answer 404
        body = response.get_data(as_text=True)
        assert CONTACT not in body, url
        assert hash_token("tok-a") not in body, url
        checked += 1
    assert checked >= 10


def test_no_client_address_is_stored(app):
    from sqlalchemy import inspect

    from mapapp.domain import db

    with app.app_context():
        inspector = inspect(db.engine())
        columns = {
            column["name"] for table in inspector.get_table_names()
            for column in inspector.get_columns(table)
        }  # fmt: skip
    assert not {"ip", "ip_address", "remote_addr", "user_agent"} & columns
