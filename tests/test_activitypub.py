"""ActivityPub: the instance actor, WebFinger, NodeInfo, the signed inbox and deliveries.

A fake Mastodon-like server (tests/fake_activitypub.py) signs its Follow and Undo, serves
its actor's key, and checks the map's signatures on the Accept and on every delivery with
its own code.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from sqlalchemy import func, select, text

from mapapp.channels.activitypub import federation, httpsig, keys, outbox
from mapapp.domain import db, lifecycle
from mapapp.domain.models import (
    ApChange,
    ApDelivery,
    ApFollower,
    ApFollowSeen,
    ApServer,
    Rally,
    utcnow,
)
from tests.conftest import add_rally, fresh_postgres, make_app
from tests.fake_activitypub import OTHER_KEY, FakeServer

BASE = "https://map.example"
HOST = "map.example"
ACTOR = f"{BASE}/ap/actor"
# One key for every test app (RSA keys are slow to make).
KEY_SETTING = base64.b64encode(httpsig.private_pem(httpsig.new_private_key()).encode()).decode()


def ap_app(sqlite_url: str, **extra: object) -> Flask:
    settings = {
        "ACTIVITYPUB": True,
        "BASE_URL": BASE,
        "ACTIVITYPUB_KEY": KEY_SETTING,
        "ACTIVITYPUB_ALLOW_LOCAL": True,
        "ACTIVITYPUB_LANGUAGE": "en",
    }
    return make_app(sqlite_url, **(settings | extra))


@pytest.fixture
def app(sqlite_url: str):  # noqa: ANN201
    app = ap_app(sqlite_url)
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_app(request, sqlite_url: str):  # noqa: ANN001, ANN201
    """The ActivityPub app on each database the product supports."""
    app = ap_app(sqlite_url if request.param == "sqlite" else fresh_postgres())
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture
def client(app: Flask):  # noqa: ANN201
    return app.test_client()


@pytest.fixture
def fake(client):  # noqa: ANN001, ANN201
    with FakeServer() as server:
        server.trust(client.get("/ap/actor", base_url=BASE).get_json())
        yield server


def get(client, path: str):  # noqa: ANN001, ANN201
    return client.get(path, base_url=BASE)


def post_signed(client, fake: FakeServer, activity: dict, path: str = "/ap/inbox", **options):  # noqa: ANN001, ANN003, ANN201
    body, headers = fake.signed(activity, path, HOST, **options)
    headers.pop("Host")
    return client.post(path, data=body, headers=headers, base_url=BASE)


def run_worker(app: Flask, now: datetime | None = None) -> dict[str, int]:
    with app.app_context():
        session = db.session(write=True)
        counts = {"revealed": outbox.queue_reveals(session, now)}
        counts["changes"] = outbox.process_changes(session, now)
        counts |= outbox.deliver_due(session, now)
        return counts


def follow(client, fake: FakeServer, app: Flask, name: str = "alice") -> dict:  # noqa: ANN001
    activity = fake.follow(name, ACTOR)
    assert post_signed(client, fake, activity).status_code == 202
    run_worker(app)
    return activity


# -- discovery ------------------------------------------------------------------------


def test_webfinger_finds_the_instance_actor(client):
    response = get(client, "/.well-known/webfinger?resource=acct:rallymap@map.example")
    assert response.status_code == 200
    assert response.content_type == "application/jrd+json"
    found = response.get_json()
    assert found["subject"] == "acct:rallymap@map.example"
    assert {"rel": "self", "type": "application/activity+json", "href": ACTOR} in found["links"]
    assert (
        get(client, "/.well-known/webfinger?resource=acct:someone@map.example").status_code == 404
    )
    assert get(client, "/.well-known/webfinger").status_code == 400


def test_the_actor_is_an_application_with_its_key_and_a_shared_inbox(client, app):
    document = get(client, "/ap/actor").get_json()
    assert document["type"] == "Application"
    assert document["id"] == ACTOR and document["preferredUsername"] == "rallymap"
    assert document["endpoints"]["sharedInbox"] == f"{BASE}/ap/inbox"
    assert document["inbox"] == f"{ACTOR}/inbox" and document["outbox"] == f"{ACTOR}/outbox"
    key = document["publicKey"]
    assert key["id"] == f"{ACTOR}#main-key" and key["owner"] == ACTOR
    with app.app_context():
        assert key["publicKeyPem"] == httpsig.public_pem(keys.private_key())


def test_nodeinfo_links_the_document_and_the_application_actor(client):
    links = get(client, "/.well-known/nodeinfo").get_json()["links"]
    assert {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": ACTOR} in links
    schema = "http://nodeinfo.diaspora.software/ns/schema/2.1"
    href = next(link["href"] for link in links if link["rel"] == schema)
    info = get(client, href.removeprefix(BASE)).get_json()
    assert info["version"] == "2.1" and info["protocols"] == ["activitypub"]
    assert info["software"]["name"] == "mapapp" and info["openRegistrations"] is False
    meta = get(client, "/.well-known/host-meta")
    assert b"/.well-known/webfinger?resource={uri}" in meta.data


def test_everything_is_a_404_while_activitypub_is_off(sqlite_url):
    app = make_app(sqlite_url)
    client = app.test_client()
    for path in ("/ap/actor", "/.well-known/webfinger?resource=x", "/.well-known/nodeinfo"):
        assert client.get(path).status_code == 404
    assert client.post("/ap/inbox", data=b"{}").status_code == 404
    app.extensions["mapapp.db"]["engine"].dispose()


def test_activitypub_needs_a_base_url_and_a_hash_key(sqlite_url):
    with pytest.raises(RuntimeError, match="BASE_URL"):
        make_app(sqlite_url, ACTIVITYPUB=True, ACTIVITYPUB_KEY=KEY_SETTING)
    with pytest.raises(RuntimeError, match="ACTIVITYPUB_NAME"):
        ap_app(sqlite_url, ACTIVITYPUB_NAME="rally map")
    with pytest.raises(RuntimeError, match="ACTIVITYPUB_LANGUAGE"):
        ap_app(sqlite_url, ACTIVITYPUB_LANGUAGE="de")
    with pytest.raises(RuntimeError, match="HASH_KEY"):
        make_app(
            sqlite_url, ACTIVITYPUB=True, BASE_URL=BASE, ACTIVITYPUB_KEY=KEY_SETTING, TESTING=False
        )


def test_without_a_key_setting_one_is_made_once_in_the_instance_folder(tmp_path):
    first = keys.from_file(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    assert httpsig.public_pem(keys.from_file(tmp_path / "k.pem")) == httpsig.public_pem(first)
    (tmp_path / "k.pem").chmod(0o644)
    with pytest.raises(keys.KeyError_):
        keys.from_file(tmp_path / "k.pem")


# -- the inbox ------------------------------------------------------------------------


def test_a_signed_follow_is_accepted_with_a_signed_accept_to_the_shared_inbox(client, app, fake):
    activity = fake.follow("alice", ACTOR)
    assert post_signed(client, fake, activity).status_code == 202
    assert run_worker(app)["delivered"] == 1
    assert fake.refused == []
    (accept,) = fake.of_type("Accept")
    assert accept["actor"] == ACTOR
    assert accept["object"]["id"] == activity["id"] and accept["object"]["actor"] == fake.actor_id(
        "alice"
    )
    # The key was fetched with a signed GET (Mastodon's secure mode needs one).
    assert (
        fake.fetches == ["/users/alice"]
        and 'keyId="https://map.example/ap/actor#main-key"' in fake.their_signatures[0]
    )
    assert get(client, "/ap/actor/followers").get_json()["totalItems"] == 1


def test_the_database_keeps_the_shared_inbox_and_a_keyed_hash_never_the_follower(client, app, fake):
    follow(client, fake, app)
    with app.app_context():
        session = db.session()
        assert session.scalars(select(ApServer.inbox)).all() == [f"{fake.base}/inbox"]
        (digest,) = session.scalars(select(ApFollower.actor_hash)).all()
        assert digest == federation.follower_hash(fake.actor_id("alice"))
        # Nowhere in the database: not the actor's id, not its name.
        dump = "\n".join(db.engine().raw_connection().driver_connection.iterdump())
    assert "alice" not in dump and digest in dump


def test_the_followers_collection_shows_a_count_and_no_one(client, app, fake):
    follow(client, fake, app)
    document = get(client, "/ap/actor/followers").get_json()
    assert document == {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ACTOR}/followers",
        "type": "OrderedCollection",
        "totalItems": 1,
    }


def test_undo_forgets_the_follower_and_its_server(client, app, fake):
    activity = follow(client, fake, app)
    assert post_signed(client, fake, fake.undo(activity), path="/ap/actor/inbox").status_code == 202
    with app.app_context():
        assert db.session().scalars(select(ApServer)).all() == []
        assert db.session().scalars(select(ApFollower)).all() == []
    add_rally(app)
    run_worker(app)
    assert fake.of_type("Create") == []


@pytest.mark.parametrize(
    "how",
    ["unsigned", "other key", "stale date", "body changed", "digest not signed", "another actor"],
)
def test_a_follow_whose_signature_does_not_hold_is_a_401_and_changes_nothing(
    client, app, fake, how
):
    activity = fake.follow("alice", ACTOR)
    options: dict = {}
    if how == "other key":
        options["key"] = OTHER_KEY
    elif how == "stale date":
        options["date"] = datetime.now(UTC) - timedelta(hours=2)
    elif how == "digest not signed":
        options["signed_headers"] = "(request-target) host date"
    body, headers = fake.signed(activity, "/ap/inbox", HOST, **options)
    headers.pop("Host")
    if how == "unsigned":
        headers.pop("Signature")
    elif how == "body changed":
        body = body.replace(b"alice#follows", b"alice#follow5")
    elif how == "another actor":  # alice's valid signature over a Follow in bob's name
        body, headers = fake.signed(
            {**activity, "actor": fake.actor_id("bob")},
            "/ap/inbox",
            HOST,
            key_id=f"{fake.actor_id('alice')}#main-key",
        )
        headers.pop("Host")
    response = client.post("/ap/inbox", data=body, headers=headers, base_url=BASE)
    assert response.status_code == 401
    with app.app_context():
        assert db.session().scalars(select(ApFollower)).all() == []
        assert db.session().scalars(select(ApDelivery)).all() == []


def test_other_activities_are_ignored_with_a_202_before_any_fetch(client, app, fake):
    like = {"type": "Like", "actor": fake.actor_id("alice"), "object": f"{BASE}/ap/rallies/1"}
    response = client.post("/ap/inbox", data=json.dumps(like), base_url=BASE)
    assert response.status_code == 202
    assert fake.fetches == []
    assert client.post("/ap/inbox", data=b"[1]", base_url=BASE).status_code == 400
    big = json.dumps({"type": "Follow", "x": "a" * federation.MAX_BODY}).encode()
    assert client.post("/ap/inbox", data=big, base_url=BASE).status_code == 413


def test_keys_are_never_fetched_from_private_addresses_unless_the_tests_allow_it(sqlite_url):
    app = ap_app(sqlite_url, ACTIVITYPUB_ALLOW_LOCAL=False)
    client = app.test_client()
    with FakeServer() as fake:
        response = post_signed(client, fake, fake.follow("alice", ACTOR))
        assert response.status_code == 401
        assert fake.fetches == []
    app.extensions["mapapp.db"]["engine"].dispose()


def test_a_key_must_be_named_by_its_owner_on_the_same_host(client, app, fake, monkeypatch):
    alice = fake.actor_id("alice")
    real = fake.document

    def other_owner(path: str):  # noqa: ANN202 - alice's document says its key is carol's
        document = real(path)
        if document:
            document["publicKey"]["owner"] = "https://elsewhere.example/users/carol"
        return document

    monkeypatch.setattr(fake, "document", other_owner)
    assert post_signed(client, fake, fake.follow("alice", ACTOR)).status_code == 401

    def another_id(path: str):  # noqa: ANN202 - a document speaking for another server's actor
        document = real(path)
        if document:
            document["id"] = document["publicKey"]["owner"] = "https://elsewhere.example/users/a"
            document["publicKey"]["id"] = f"{alice}#main-key"
        return document

    monkeypatch.setattr(fake, "document", another_id)
    activity = {**fake.follow("alice", ACTOR), "actor": "https://elsewhere.example/users/a"}
    response = post_signed(client, fake, activity, key_id=f"{alice}#main-key")
    assert response.status_code == 401
    with app.app_context():
        assert db.session().scalars(select(ApFollower)).all() == []


def test_a_shared_inbox_on_another_host_is_refused(client, app, fake, monkeypatch):
    real = fake.document

    def elsewhere(path: str):  # noqa: ANN202
        document = real(path)
        if document:
            document["endpoints"] = {"sharedInbox": "https://victim.example/inbox"}
        return document

    monkeypatch.setattr(fake, "document", elsewhere)
    assert post_signed(client, fake, fake.follow("alice", ACTOR)).status_code == 202
    with app.app_context():
        assert db.session().scalars(select(ApServer)).all() == []


def test_a_person_without_a_shared_inbox_is_not_stored(client, app, fake):
    response = post_signed(client, fake, fake.follow("bob", ACTOR))
    assert response.status_code == 202
    with app.app_context():
        assert db.session().scalars(select(ApServer)).all() == []


# -- deliveries -------------------------------------------------------------------------


def perform(app: Flask, rally_id: int, action: str) -> None:
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(
            session, session.get(Rally, rally_id), "moderator:test", action, reason="test"
        )


def test_one_rallys_life_as_a_follower_server_receives_it(db_app):
    app, client = db_app, db_app.test_client()
    with FakeServer() as fake:
        fake.trust(get(client, "/ap/actor").get_json())
        life(app, client, fake)


def life(app: Flask, client, fake: FakeServer) -> None:  # noqa: ANN001
    follow(client, fake, app)
    reveal_at = datetime.now(UTC) + timedelta(hours=2)
    rally_id = add_rally(app, place="Плошча Свабоды", reveal_at=reveal_at, description="Прыходзьце")
    run_worker(app)
    (create,) = fake.of_type("Create")
    event = create["object"]
    assert event["type"] == "Event" and event["id"] == f"{BASE}/ap/rallies/{rally_id}"
    assert set(event["nameMap"]) == set(event["contentMap"]) == {"be", "ru", "en"}
    assert event["location"]["address"]["addressLocality"] == "Мінск"
    assert "latitude" not in event["location"]
    assert "Свабоды" not in json.dumps(create, ensure_ascii=False)  # nothing of the place yet
    assert event["startTime"].endswith("Z") and event["url"].startswith(
        f"{BASE}/rallies/{rally_id}"
    )

    # The reveal time passes: an Update with the place, and a Note saying so.
    later = reveal_at + timedelta(minutes=1)
    assert run_worker(app, later)["revealed"] == 1
    (update,) = fake.of_type("Update")
    assert update["object"]["location"]["address"]["streetAddress"] == "Плошча Свабоды"
    assert "latitude" in update["object"]["location"]
    (note,) = [d for d in fake.of_type("Create") if d["object"]["type"] == "Note"]
    assert "The exact place is announced: Плошча Свабоды" in note["object"]["content"]

    perform(app, rally_id, "danger")
    run_worker(app, later)
    notes = [d["object"] for d in fake.of_type("Create") if d["object"]["type"] == "Note"]
    assert "Danger: police are at the place. Do not come." in notes[-1]["content"]
    assert set(notes[-1]["contentMap"]) == {"be", "ru", "en"}

    perform(app, rally_id, "clear_danger")
    perform(app, rally_id, "cancel")
    run_worker(app, later)
    last_update = fake.of_type("Update")[-1]["object"]
    assert last_update["ical:status"] == "CANCELLED"
    notes = [d["object"] for d in fake.of_type("Create") if d["object"]["type"] == "Note"]
    assert "This rally is cancelled." in notes[-1]["content"]

    # Each Note is served at its id while the rally is public (a boost fetches it there).
    note_ids = [n["id"] for n in notes]
    served = get(client, note_ids[0].removeprefix(BASE))
    assert served.status_code == 200 and served.get_json()["id"] == note_ids[0]

    perform(app, rally_id, "reject")
    run_worker(app, later)
    deletes = [d["object"] for d in fake.of_type("Delete")]
    assert deletes[0] == {"id": f"{BASE}/ap/rallies/{rally_id}", "type": "Tombstone"}
    # ...and every Note said of it (the place, the warnings) is deleted too.
    assert sorted(d["id"] for d in deletes[1:]) == sorted(note_ids)
    assert get(client, note_ids[0].removeprefix(BASE)).status_code == 404
    assert fake.refused == []  # every delivery carried a signature the fake accepted
    kinds = [(d["type"], d["object"]["type"]) for d in fake.deliveries]
    assert kinds == [
        ("Accept", "Follow"),
        ("Create", "Event"),
        ("Update", "Event"),
        ("Create", "Note"),  # revealed
        ("Update", "Event"),
        ("Create", "Note"),  # danger
        ("Update", "Event"),  # danger lifted
        ("Update", "Event"),
        ("Create", "Note"),  # cancelled
        ("Delete", "Tombstone"),  # the Event
        ("Delete", "Tombstone"),
        ("Delete", "Tombstone"),
        ("Delete", "Tombstone"),  # its Notes
    ]


def test_a_new_start_time_sends_a_rescheduled_note(client, app, fake):
    follow(client, fake, app)
    rally_id = add_rally(app)
    run_worker(app)
    with app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        lifecycle.edit(
            session, rally, {"starts_at": rally.starts_at + timedelta(hours=1)}, "moderator:test"
        )
    run_worker(app)
    note = fake.of_type("Create")[-1]["object"]
    assert note["type"] == "Note" and "The time has changed" in note["content"]


def test_a_failing_server_waits_keeps_the_order_and_is_dropped_after_days(db_app):
    app, client = db_app, db_app.test_client()
    with FakeServer() as fake:
        fake.trust(get(client, "/ap/actor").get_json())
        failing(app, client, fake)


def failing(app: Flask, client, fake: FakeServer) -> None:  # noqa: ANN001
    follow(client, fake, app)
    first, second = add_rally(app, title="Першы"), add_rally(app, title="Другі")
    fake.fail_next = ["500"]
    counts = run_worker(app)
    assert counts["failed"] == 1 and fake.of_type("Create") == []
    # Nothing is sent before the backoff has passed; then both, in order.
    assert run_worker(app)["delivered"] == 0
    counts = run_worker(app, utcnow() + timedelta(minutes=1))
    assert counts["delivered"] == 2
    names = [d["object"]["name"] for d in fake.of_type("Create")]
    assert names == ["Першы", "Другі"]
    assert first < second
    # Failing for days: dropped with its followers.
    add_rally(app)
    fake.fail_next = ["drop"] * 50
    start = utcnow() + timedelta(minutes=2)
    run_worker(app, start)
    counts = run_worker(app, start + timedelta(days=3, minutes=1))
    assert counts["dropped"] == 1
    with app.app_context():
        assert db.session().scalars(select(ApServer)).all() == []
        assert db.session().scalars(select(ApFollower)).all() == []


def test_the_outbox_pages_the_public_rallies_for_mobilizon(client, app):
    for n in range(23):
        add_rally(app, title=f"Пікет {n}")
    add_rally(app, title="Чакае", status="pending")
    collection = get(client, "/ap/actor/outbox").get_json()
    assert collection["type"] == "OrderedCollection" and collection["totalItems"] == 23
    page = get(client, collection["first"].removeprefix(BASE)).get_json()
    assert page["type"] == "OrderedCollectionPage" and len(page["orderedItems"]) == 20
    assert page["orderedItems"][0]["type"] == "Create"
    assert page["orderedItems"][0]["object"]["type"] == "Event"
    second = get(client, page["next"].removeprefix(BASE)).get_json()
    assert len(second["orderedItems"]) == 3 and "next" not in second
    assert "Чакае" not in json.dumps(page, ensure_ascii=False) + json.dumps(
        second, ensure_ascii=False
    )
    assert get(client, "/ap/actor/outbox?page=0").status_code == 400


def test_an_event_document_hides_the_place_until_its_reveal(client, app):
    rally_id = add_rally(
        app, place="Плошча Свабоды", reveal_at=datetime.now(UTC) + timedelta(hours=1)
    )
    document = get(client, f"/ap/rallies/{rally_id}")
    assert document.status_code == 200 and document.content_type == "application/activity+json"
    assert "Свабоды" not in document.get_data(as_text=True)
    assert get(client, "/ap/rallies/99999").status_code == 404


def test_changes_are_queued_only_while_activitypub_is_on(sqlite_url):
    app = make_app(sqlite_url)
    add_rally(app)
    with app.app_context():
        assert db.session().scalars(select(ApChange)).all() == []
        assert db.session().execute(text("SELECT count(*) FROM ap_change")).scalar() == 0
    app.extensions["mapapp.db"]["engine"].dispose()


# -- the signature module ------------------------------------------------------------------


def test_signatures_round_trip_and_refuse_what_mastodon_refuses():
    key = httpsig.new_private_key()
    now = datetime.now(UTC)
    headers = httpsig.sign(key, "https://a/#k", "POST", "/inbox", "b.example", b"{}", now)
    parsed = httpsig.parse(headers["Signature"])
    assert parsed.headers == ("(request-target)", "host", "date", "digest")
    public = key.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    window = timedelta(hours=1)
    httpsig.verify(public, parsed, "POST", "/inbox", headers, b"{}", now, window)
    for path, body, moment in (
        ("/other", b"{}", now),
        ("/inbox", b"[]", now),
        ("/inbox", b"{}", now + 2 * window),
    ):
        with pytest.raises(httpsig.SignatureError):
            httpsig.verify(public, parsed, "POST", path, headers, body, moment, window)
    with pytest.raises(httpsig.SignatureError):
        httpsig.parse('keyId="x",signature="not base64!"')


def test_a_rotated_key_is_fetched_again_once(client, app, fake, monkeypatch):
    first = follow(client, fake, app)
    # alice's server makes a new key; the map still keeps the old one for a day.
    import tests.fake_activitypub as fake_module

    monkeypatch.setattr(fake_module, "ALICE_KEY", OTHER_KEY)
    cache = app.extensions[federation.KEY_CACHE]
    for key_id, (at, value) in list(cache.items()):
        cache[key_id] = (at - 3600, value)
    fetched = len(fake.fetches)
    response = post_signed(client, fake, fake.undo(first), key=OTHER_KEY)
    assert response.status_code == 202
    assert len(fake.fetches) == fetched + 1
    with app.app_context():
        assert db.session().scalars(select(ApFollower)).all() == []


def test_the_worker_command_does_one_round(app, fake, client):
    follow(client, fake, app)
    add_rally(app)
    result = app.test_cli_runner().invoke(args=["activitypub-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 changes" in result.output and "1 deliveries sent" in result.output
    assert [d["object"]["type"] for d in fake.of_type("Create")] == ["Event"]


def test_the_worker_command_says_when_activitypub_is_off(sqlite_url):
    app = make_app(sqlite_url)
    result = app.test_cli_runner().invoke(args=["activitypub-worker", "--once"])
    assert result.exit_code != 0 and "MAPAPP_ACTIVITYPUB" in result.output
    app.extensions["mapapp.db"]["engine"].dispose()


def test_no_document_or_delivery_shows_an_unrevealed_place(client, app, fake):
    """The guard of tests/test_public.py for ActivityPub: one unrevealed rally, warned of
    (a Note before the reveal), in every document and every delivery: no place text, no
    coordinate nearer than its town."""
    from tests.test_public import assert_hidden, unrevealed_rally

    follow(client, fake, app)
    rally_id = unrevealed_rally(app)
    perform(app, rally_id, "danger")
    run_worker(app)
    assert [d["object"]["type"] for d in fake.of_type("Create")] == ["Event", "Note"]
    for delivery in fake.deliveries:
        assert_hidden(json.dumps(delivery, ensure_ascii=False), delivery["type"])
    note_path = fake.of_type("Create")[1]["object"]["id"].removeprefix(BASE)
    paths = [
        "/ap/actor",
        "/ap/actor/outbox",
        "/ap/actor/outbox?page=1",
        "/ap/actor/followers",
        f"/ap/rallies/{rally_id}",
        note_path,
        "/.well-known/nodeinfo",
        "/nodeinfo/2.1",
        "/.well-known/webfinger?resource=acct:rallymap@map.example",
        "/.well-known/host-meta",
    ]
    for path in paths:
        response = get(client, path)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        if response.is_json:
            text = json.dumps(response.get_json(), ensure_ascii=False)
        assert_hidden(text, path)
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("activitypub.")}
    swept = {p.split("?")[0] for p in paths} | {"/ap/inbox", "/ap/actor/inbox"}
    assert len(rules) == len(swept)


def test_a_slow_server_does_not_hold_back_the_others(client, app):
    with FakeServer() as slow, FakeServer() as quick:
        for server in (slow, quick):
            server.trust(get(client, "/ap/actor").get_json())
            assert post_signed(client, server, server.follow("alice", ACTOR)).status_code == 202
        slow.delay = 1.0
        add_rally(app)
        add_rally(app)
        started = time.monotonic()
        counts = run_worker(app)
        took = time.monotonic() - started
    # Each server: its Accept and two Creates, in order; the quick one was not kept waiting
    # behind the slow one's three seconds.
    assert counts["delivered"] == 6 and counts["failed"] == 0
    assert [d["type"] for d in quick.deliveries] == ["Accept", "Create", "Create"]
    assert [d["type"] for d in slow.deliveries] == ["Accept", "Create", "Create"]
    assert quick.arrived[-1] - started < 1.0 < took


def test_while_keys_are_being_fetched_a_new_follow_waits_with_a_503(client, app, fake):
    gate = app.extensions.setdefault(
        federation.FETCH_GATE, federation.FetchGate(federation.KEY_FETCHES)
    )
    # Other hosts' slow keys being fetched meanwhile, every slot taken.
    taken = [gate.enter(f"slow{n}.example", f"c{n}") for n in range(federation.KEY_FETCHES)]
    response = post_signed(client, fake, fake.follow("alice", ACTOR))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert fake.fetches == []
    for names in taken:
        gate.leave(names)
    assert post_signed(client, fake, fake.follow("alice", ACTOR)).status_code == 202


def test_a_slow_key_server_holds_one_fetch_and_real_follows_go_through(client, app, fake):
    """Two fetches at once per process, shared by all: one address naming key servers that
    answer just under the timeout kept every real Follow at 503. Now a sending host, and a
    client address, hold one fetch at a time; the other slots stay free; a cached key
    never waits."""
    import threading

    def post_from(server: FakeServer, address: str) -> int:
        body, headers = server.signed(server.follow("alice", ACTOR), "/ap/inbox", HOST)
        headers.pop("Host")
        return client.post(
            "/ap/inbox",
            data=body,
            headers=headers,
            base_url=BASE,
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    assert post_from(fake, "198.51.100.9") == 202  # a real follower, its key now cached
    with FakeServer() as slow, FakeServer() as slow2, FakeServer() as real:
        slow.fetch_delay = slow2.fetch_delay = 1.5
        answers: list[int] = []
        hostile = threading.Thread(target=lambda: answers.append(post_from(slow, "203.0.113.6")))
        hostile.start()
        time.sleep(0.3)  # its key is being fetched
        # The same host again (from another address), and another slow host from the same
        # address: each waits for the first fetch.
        assert post_from(slow, "203.0.113.7") == 503
        assert post_from(slow2, "203.0.113.6") == 503
        started = time.monotonic()
        assert post_from(real, "192.0.2.10") == 202  # another host: not kept waiting
        assert post_from(fake, "192.0.2.11") == 202  # cached: no slot needed
        assert time.monotonic() - started < 1.0
        hostile.join()
    assert answers == [202]


def test_nothing_of_a_follower_reaches_the_logs(client, app, fake, caplog):
    caplog.set_level(logging.DEBUG)
    activity = fake.follow("alice", ACTOR)
    post_signed(client, fake, activity, key=OTHER_KEY)  # refused: logged by reason only
    post_signed(client, fake, activity)
    fake.fail_next = ["500"]
    run_worker(app)
    assert "refused a request" in caplog.text and "delivery failed: status 500" in caplog.text
    assert "alice" not in caplog.text and str(fake.server.server_port) not in caplog.text


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\n\r\n"])
def test_a_server_trickling_its_answer_is_cut_at_the_timeout(app, head):
    """One byte every 0.2 s keeps each read under the socket's timeout: the whole request
    must still end at its timeout (in the headers, and in a body without a length)."""
    import socket
    import threading

    from mapapp.channels.activitypub import net

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(head)
            while not stop.is_set():
                try:
                    conn.sendall(b"X-A: b\r\n" if head.endswith(b"OK\r\n") else b"x")
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=trickle, daemon=True).start()
    with app.app_context():
        place = net.target(f"http://127.0.0.1:{listener.getsockname()[1]}/actor")
        started = time.monotonic()
        with pytest.raises(net.NetError) as error:
            net.request("GET", place, {}, timeout=1.0)
        took = time.monotonic() - started
    stop.set()
    listener.close()
    assert error.value.kind == "timeout" and took < 2.0


def test_a_place_hidden_again_takes_its_notes_back(client, app, fake):
    """An organizer who moves the rally to a new place hidden until later (after the old one
    was shown): the Notes that named the old place are deleted from followers and no longer
    served."""
    follow(client, fake, app)
    rally_id = add_rally(app, place="Плошча Свабоды")
    perform(app, rally_id, "danger")
    run_worker(app)
    (note,) = [d["object"] for d in fake.of_type("Create") if d["object"]["type"] == "Note"]
    assert "Свабоды" in note["content"]
    with app.app_context():
        session = db.session(write=True)
        later = datetime.now(UTC) + timedelta(hours=3)
        rally = session.get(Rally, rally_id)
        lifecycle.set_reveal(session, rally, later, "organizer", new_place=True)
        lifecycle.edit(session, rally, {"place": "Новае месца", "lat": 53.91, "lon": 27.58},
                       "organizer")  # fmt: skip
        session.commit()
        # The place the public saw stays until a moderator approves the new one.
        assert lifecycle.approve(session, rally, "moderator:test") == "moved"
        session.commit()
    run_worker(app)
    assert "Свабоды" not in json.dumps(fake.of_type("Update")[-1], ensure_ascii=False)
    deleted = [d["object"]["id"] for d in fake.of_type("Delete")]
    assert deleted == [note["id"]]
    assert get(client, note["id"].removeprefix(BASE)).status_code == 404


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (a cloud's metadata service)
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "::ffff:127.0.0.1",
        "169.254.169.254",
    ],
)
def test_an_ipv6_address_holding_a_private_ipv4_one_is_refused(sqlite_url, monkeypatch, address):
    """A keyId or inbox host whose DNS answers an IPv6 address that carries a private IPv4
    one (NAT64, 6to4, Teredo, mapped, compatible) reaches that address through a gateway."""
    import socket

    from mapapp.channels.activitypub import net

    def answer(host, port, **_options):  # noqa: ANN001, ANN003, ANN202
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    app = ap_app(sqlite_url, ACTIVITYPUB_ALLOW_LOCAL=False)
    with app.app_context(), pytest.raises(net.NetError) as error:
        net.target("https://evil.example/users/alice")
    assert error.value.kind == "private_address"
    app.extensions["mapapp.db"]["engine"].dispose()


def test_a_rally_public_before_activitypub_was_on_is_deleted_when_taken_down(sqlite_url):
    """Rallies on the map before the operator turned ActivityPub on are in the outbox, which
    Mobilizon reads to backfill: taken down, they must be deleted from followers too."""
    before = make_app(sqlite_url)
    rally_id = add_rally(before)
    before.extensions["mapapp.db"]["engine"].dispose()
    app = ap_app(sqlite_url)
    client = app.test_client()
    with FakeServer() as fake:
        fake.trust(get(client, "/ap/actor").get_json())
        follow(client, fake, app)
        outbox_page = get(client, "/ap/actor/outbox?page=1").get_json()
        assert [i["object"]["id"] for i in outbox_page["orderedItems"]] == [
            f"{BASE}/ap/rallies/{rally_id}"
        ]
        perform(app, rally_id, "reject")
        run_worker(app)
        deleted = [d["object"]["id"] for d in fake.of_type("Delete")]
    app.extensions["mapapp.db"]["engine"].dispose()
    assert deleted == [f"{BASE}/ap/rallies/{rally_id}"]


def test_a_rally_public_before_activitypub_was_on_sends_its_reveal(sqlite_url):
    """A rally on the map, place hidden, before ActivityPub was on is in the outbox: when
    its place is revealed, followers get the Update and the Note like for any other."""
    before = make_app(sqlite_url)
    reveal_at = datetime.now(UTC) + timedelta(hours=2)
    rally_id = add_rally(before, place="Плошча Свабоды", reveal_at=reveal_at)
    other = add_rally(before, place="Кастрычніцкая плошча")  # never hidden: nothing to send
    before.extensions["mapapp.db"]["engine"].dispose()
    app = ap_app(sqlite_url)
    client = app.test_client()
    with FakeServer() as fake:
        fake.trust(get(client, "/ap/actor").get_json())
        follow(client, fake, app)
        assert fake.of_type("Update") == fake.of_type("Create") == []
        run_worker(app, reveal_at + timedelta(minutes=1))
        updates = [d["object"] for d in fake.of_type("Update")]
        notes = [d["object"] for d in fake.of_type("Create")]
        run_worker(app, reveal_at + timedelta(minutes=2))  # once only
        assert len(fake.deliveries) == 3
    app.extensions["mapapp.db"]["engine"].dispose()
    assert [u["id"] for u in updates] == [f"{BASE}/ap/rallies/{rally_id}"]
    assert "Плошча Свабоды" in json.dumps(updates[0], ensure_ascii=False)
    assert [n["type"] for n in notes] == ["Note"]
    assert "Плошча Свабоды" in json.dumps(notes[0], ensure_ascii=False)
    assert f'/ap/rallies/{other}"' not in json.dumps(fake.deliveries)


def test_a_replayed_follow_queues_no_more_than_a_bounded_number_of_accepts(
    client, app, fake, monkeypatch
):
    """One signed Follow is valid for an hour: replayed by a server that refuses our
    deliveries, each copy would keep one more Accept in the database for days."""
    monkeypatch.setattr(federation, "MAX_ACCEPTS_WAITING", 3)
    activity = fake.follow("alice", ACTOR)
    # Each one newer than the last (a copy of one is refused as a replay: see below).
    for n in range(6):
        date = datetime.now(UTC) - timedelta(minutes=10) + timedelta(seconds=n)
        assert post_signed(client, fake, activity, date=date).status_code == 202
    with app.app_context():
        session = db.session()
        assert session.scalar(select(func.count()).select_from(ApDelivery)) == 3
        assert session.scalar(select(func.count()).select_from(ApFollower)) == 1
    run_worker(app)
    assert [d["type"] for d in fake.deliveries] == ["Accept"] * 3
    # Once they are sent, a new Follow is accepted again.
    assert post_signed(client, fake, fake.follow("alice", ACTOR)).status_code == 202
    run_worker(app)
    assert len(fake.of_type("Accept")) == 4


def test_a_follow_replayed_after_its_undo_does_not_subscribe_again(client, app, fake):
    """A signed Follow holds for the hour of its Date window: replayed after the follower's
    Undo, it re-subscribed them. A Follow (or Undo) not newer than the last one taken
    from the same follower is now refused."""
    activity = fake.follow("alice", ACTOR)
    body, headers = fake.signed(activity, "/ap/inbox", HOST)
    headers.pop("Host")
    assert client.post("/ap/inbox", data=body, headers=headers, base_url=BASE).status_code == 202
    undo = fake.undo(activity)
    later = datetime.now(UTC) + timedelta(seconds=2)
    assert post_signed(client, fake, undo, date=later).status_code == 202
    with app.app_context():
        assert federation.follower_count(db.session()) == 0
    # The captured Follow, sent again within its hour: politely ignored.
    assert client.post("/ap/inbox", data=body, headers=headers, base_url=BASE).status_code == 202
    with app.app_context():
        session = db.session()
        assert federation.follower_count(session) == 0
        # What is kept: the keyed hash and the Date, nothing else of the follower.
        seen = session.scalars(select(ApFollowSeen)).all()
        assert [row.actor_hash for row in seen] == [federation.follower_hash(activity["actor"])]
        assert abs(seen[0].signed_at - later) < timedelta(seconds=1)
    # A new Follow (a later Date) is taken.
    newer = datetime.now(UTC) + timedelta(seconds=4)
    again = fake.follow("alice", ACTOR)
    assert post_signed(client, fake, again, date=newer).status_code == 202
    with app.app_context():
        assert federation.follower_count(db.session()) == 1
    run_worker(app)  # the first Accept went with the server at the Undo
    assert [a["object"]["id"] for a in fake.of_type("Accept")] == [again["id"]]


def test_two_copies_of_a_follow_at_once_are_one_follow_not_a_500(client, app, fake, monkeypatch):
    """Two copies racing: both found no row for the follower, the second's insert failed."""
    from sqlalchemy.orm import Session

    looked_up = Session.get

    def get(self, entity, ident, **options):  # noqa: ANN001, ANN003, ANN202
        return None if entity is ApFollowSeen else looked_up(self, entity, ident, **options)

    monkeypatch.setattr(Session, "get", get)  # as if the other copy had not committed yet
    body, headers = fake.signed(fake.follow("alice", ACTOR), "/ap/inbox", HOST)
    headers.pop("Host")
    for _ in range(2):
        assert (
            client.post("/ap/inbox", data=body, headers=headers, base_url=BASE).status_code == 202
        )
    with app.app_context():
        assert federation.follower_count(db.session()) == 1
    run_worker(app)
    assert len(fake.of_type("Accept")) == 1


def test_an_undo_in_the_second_of_its_follow_still_unfollows(client, app, fake):
    activity = fake.follow("alice", ACTOR)
    date = datetime.now(UTC)
    assert post_signed(client, fake, activity, date=date).status_code == 202
    assert post_signed(client, fake, fake.undo(activity), date=date).status_code == 202
    with app.app_context():
        assert federation.follower_count(db.session()) == 0


def test_followers_per_server_and_servers_are_capped_and_refused_politely(sqlite_url):
    """A hostile server could make any number of its accounts follow (120 a minute per
    address); past the caps a Follow is answered 202 with no Accept and nothing kept."""
    app = ap_app(sqlite_url, ACTIVITYPUB_SERVER_FOLLOWERS=1, ACTIVITYPUB_SERVERS=2)
    client = app.test_client()
    with FakeServer() as one, FakeServer() as two, FakeServer() as three:
        for server in (one, two, three):
            server.trust(get(client, "/ap/actor").get_json())
        alice = follow(client, one, app, "alice")
        follow(client, one, app, "carol")  # one server, one follower at most
        follow(client, two, app, "alice")
        follow(client, three, app, "alice")  # a third server
        with app.app_context():
            session = db.session()
            assert federation.follower_count(session) == 2
            assert len(session.scalars(select(ApServer)).all()) == 2
        assert [a["object"]["actor"] for a in one.of_type("Accept")] == [alice["actor"]]
        assert len(two.of_type("Accept")) == 1 and three.of_type("Accept") == []
        # Who follows already may follow again (a new Follow id), and undo.
        time.sleep(1.1)
        follow(client, one, app, "alice")
        assert len(one.of_type("Accept")) == 2
    app.extensions["mapapp.db"]["engine"].dispose()


def test_json_nested_thousands_deep_is_a_400_and_a_refused_key_not_a_500(app):
    """Python's JSON parser recurses: a body (or a key document) nested 30 000 deep raised
    RecursionError, which no handler caught (a 500 and a traceback)."""
    import socket
    import threading

    from mapapp.channels.activitypub import net

    deep = b'{"type": "Follow", "object": ' + b"[" * 30000 + b"]" * 30000 + b"}"
    response = app.test_client().post(
        "/ap/inbox", data=deep, content_type="application/activity+json", base_url=BASE
    )
    assert response.status_code == 400
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(deep) + deep)

    threading.Thread(target=answer, daemon=True).start()
    with app.app_context(), pytest.raises(net.NetError) as error:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/users/alice"
        net.fetch_json(url, lambda *_: {})
    listener.close()
    assert error.value.kind == "not_json"
