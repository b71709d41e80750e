"""The instance actor's inbox: Follow and Undo{Follow}, signature checked; the rest ignored.

A POST to the inbox (shared or the actor's) is read only up to MAX_BODY bytes. An activity
other than Follow or Undo is answered 202 and dropped before anything is fetched. A Follow
or an Undo must carry a draft-cavage signature (mapapp.channels.activitypub.httpsig) over
(request-target), host, date and digest, by a key whose owner is the activity's actor;
the key comes from the keyId's document (mapapp.channels.activitypub.net: public
addresses only, bounded), kept in memory for KEY_TTL.

What is stored of a follower: its server's shared inbox (ApServer) and a keyed hash of its
actor id (ApFollower, mapapp.web.keyed's off-disk key), enough for its Undo. Who follows is
never stored, logged or shown.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urldefrag, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mapapp.channels.activitypub import httpsig, keys, net
from mapapp.domain.models import ApDelivery, ApFollower, ApFollowSeen, ApServer, utcnow
from mapapp.publishing import activitystreams as streams
from mapapp.web.keyed import keyed_hash

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes of an inbox POST (a Follow is under 1 KiB)
WINDOW = timedelta(hours=1)  # a signed Date may be this far from our clock (Mastodon: 1 h skew)
KEY_TTL = 24 * 3600  # seconds a fetched key is kept
KEY_CACHE = "mapapp.activitypub_keys"
# Keys fetched at once by one process, at most: a follower's server that answers slowly
# holds at most this many web threads; past it the inbox answers 503 (the sender retries).
# One sending host (the keyId's) and one client address have at most one fetch at a time,
# so a host whose key server answers slowly, or one address naming many such hosts, holds
# one slot and leaves the others to everyone else (mapapp.channels.activitypub.federation
# .FetchGate). A cached key never waits.
KEY_FETCHES = 3
KEY_TIMEOUT = 5.0  # seconds for one key document
FETCH_GATE = "mapapp.activitypub_key_fetches"
HANDLED = ("Follow", "Undo")
# Accepts waiting for one server, at most: a server replaying a signed Follow (valid for
# WINDOW) or making followers by the thousand, refusing our deliveries, would otherwise
# fill the database with Accepts kept for MAPAPP_ACTIVITYPUB_DROP_DAYS. Past it a Follow
# is still kept (its Undo still works); its Accept is not sent.
MAX_ACCEPTS_WAITING = 100
# Actor types that are a server, not a person: their own inbox may stand for a shared one.
SERVER_TYPES = ("Application", "Service")


# What an Accept's id holds (mapapp.publishing.activitystreams.activity): how a waiting
# Accept is told from the rallies' activities.
ACCEPT_MARK = "/ap/activities/accept-"


class Unauthorized(Exception):  # noqa: N818 - reads as the answer it becomes (401)
    """The request is not signed by the activity's actor; `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Busy(Exception):  # noqa: N818 - reads as the answer it becomes (503)
    """Too many keys are being fetched at once: try again later."""


class FetchGate:
    """Slots for key fetches in one process: `size` at once, and one at a time per sending
    host and per client address (a slow host, or one address naming many slow hosts,
    never holds more than one)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.busy: set[str] = set()  # "host:..." and "client:..." of the fetches under way
        self.running = 0

    def enter(self, host: str, client: str) -> tuple[str, ...] | None:
        """Take a slot for `host` asked by `client`; None when none is free for them."""
        names = (f"host:{host}",) + ((f"client:{client}",) if client else ())
        with self.lock:
            if self.running >= self.size or any(name in self.busy for name in names):
                return None
            self.busy.update(names)
            self.running += 1
            return names

    def leave(self, names: tuple[str, ...]) -> None:
        with self.lock:
            self.busy.difference_update(names)
            self.running -= 1


class BadActivity(ValueError):
    """The body is not an activity we can read (a 400)."""


@dataclass(frozen=True)
class Signer:
    """Whose key signed a request: the actor's id, its document, and the signed Date."""

    actor_id: str
    actor: dict[str, Any]
    signed_at: datetime


def base_url() -> str:
    """The site's declared address (MAPAPP_BASE_URL): every id we publish is under it."""
    return str(current_app.config["BASE_URL"]).rstrip("/")


def our_signer(method: str, path: str, host: str, body: bytes | None) -> dict[str, str]:
    """Headers signing a request by the instance actor (key id: the actor's #main-key)."""
    key_id = f"{streams.actor_id(base_url())}#main-key"
    return httpsig.sign(keys.private_key(), key_id, method, path, host, body, utcnow())


def parse_activity(body: bytes) -> dict[str, Any]:
    """:raise BadActivity: not a JSON object with a string `type`."""
    try:
        activity = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...
        raise BadActivity("not JSON") from None
    if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
        raise BadActivity("not an activity")
    return activity


def ident(value: Any) -> str | None:  # noqa: ANN401 - JSON
    """An id given as a string or as an object with an `id`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def wanted(activity: dict[str, Any]) -> bool:
    """Whether an activity is one we act on (checked before any signature or fetch)."""
    kind = activity["type"]
    if kind == "Follow":
        return True
    if kind == "Undo":
        inner = activity.get("object")
        return isinstance(inner, str) or (isinstance(inner, dict) and inner.get("type") == "Follow")
    return False


def fetch_key(
    key_id: str, fresh: bool = False, client: str = ""
) -> tuple[rsa.RSAPublicKey, str, dict[str, Any]]:
    """The public key named `key_id`, its owner's id and the owner's actor document.

    The keyId's document is the actor itself (Mastodon, Mobilizon, Gancio: `publicKey` in
    the actor, keyId its `#main-key`) or a key document naming its `owner`, which is then
    fetched too. `client` names the address that asked (a keyed hash), for FetchGate.
    :raise Unauthorized: no usable key there. :raise Busy: no fetch slot free for this
    host or client (a cached key is returned without one).
    """
    cache: dict[str, tuple[float, Any]] = current_app.extensions.setdefault(KEY_CACHE, {})
    found = cache.get(key_id)
    if found and not fresh and time.monotonic() - found[0] < KEY_TTL:
        return found[1]
    url = urldefrag(key_id)[0]
    gate: FetchGate = current_app.extensions.setdefault(FETCH_GATE, FetchGate(KEY_FETCHES))
    taken = gate.enter(host_of(key_id), client)
    if taken is None:
        raise Busy("key fetches busy")
    try:
        return _fetch_key(key_id, url, cache)
    finally:
        gate.leave(taken)


def _fetch_key(
    key_id: str, url: str, cache: dict[str, tuple[float, Any]]
) -> tuple[rsa.RSAPublicKey, str, dict[str, Any]]:
    try:
        document = net.fetch_json(url, our_signer, timeout=KEY_TIMEOUT)
        key_doc = document.get("publicKey")
        if isinstance(key_doc, list):
            key_doc = next((k for k in key_doc if ident(k) == key_id), None)
        if isinstance(key_doc, dict):
            actor = document
        elif document.get("publicKeyPem"):
            key_doc = document
            owner = document.get("owner")
            if not isinstance(owner, str) or host_of(owner) != host_of(key_id):
                raise Unauthorized("key without an owner on its host")
            actor = net.fetch_json(owner, our_signer, timeout=KEY_TIMEOUT)
        else:
            raise Unauthorized("no public key")
    except net.NetError as error:
        raise Unauthorized(f"key fetch failed: {error.kind}") from None
    if ident(key_doc) != key_id or key_doc.get("owner") != actor.get("id"):
        raise Unauthorized("key id or owner does not match")
    if not isinstance(actor.get("id"), str) or urldefrag(actor["id"])[0] != actor["id"]:
        raise Unauthorized("actor without id")
    # The key, its document and its owner on one host, and the owner names the key: a
    # server cannot hand out a key "owned" by an actor of another server.
    if host_of(actor["id"]) != host_of(key_id) or host_of(str(document.get("id"))) != host_of(
        key_id
    ):
        raise Unauthorized("key and actor on different hosts")
    if not names_key(actor, key_id):
        raise Unauthorized("the actor does not name this key")
    try:
        public_key = httpsig.load_public_key(str(key_doc.get("publicKeyPem", "")))
    except httpsig.SignatureError as error:
        raise Unauthorized(str(error)) from None
    value = (public_key, actor["id"], actor)
    if len(cache) > 1000:
        cache.clear()
    cache[key_id] = (time.monotonic(), value)
    return value


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def names_key(actor: dict[str, Any], key_id: str) -> bool:
    """Whether an actor document lists the key `key_id` as its own."""
    keys_ = actor.get("publicKey")
    listed = keys_ if isinstance(keys_, list) else [keys_]
    return any(ident(key) == key_id for key in listed)


def authenticate(
    method: str, path: str, headers: dict[str, str], body: bytes, now: datetime, client: str = ""
) -> Signer:
    """Who signed this request; `client` names the address that sent it (a keyed hash).

    :raise Unauthorized: no signature, or it does not hold. :raise Busy: the key must be
    fetched and no slot is free for its host or this client."""
    header = headers.get("signature")
    if not header:
        raise Unauthorized("not signed")
    try:
        signature = httpsig.parse(header)
    except httpsig.SignatureError as error:
        raise Unauthorized(str(error)) from None
    started = time.monotonic()
    public_key, actor_id, actor = fetch_key(signature.key_id, client=client)
    try:
        httpsig.verify(public_key, signature, method, path, headers, body, now, WINDOW)
    except httpsig.Mismatch as error:
        cache = current_app.extensions.get(KEY_CACHE, {})
        if cache.get(signature.key_id, (0.0,))[0] >= started - 60:
            raise Unauthorized(str(error)) from None  # fetched just now: no newer key
        # The key may have been rotated since we kept it: fetch it once more.
        public_key, actor_id, actor = fetch_key(signature.key_id, fresh=True, client=client)
        try:
            httpsig.verify(public_key, signature, method, path, headers, body, now, WINDOW)
        except httpsig.SignatureError as again:
            raise Unauthorized(str(again)) from None
    except httpsig.SignatureError as error:
        raise Unauthorized(str(error)) from None
    # verify checked the Date: signed, an HTTP date, within WINDOW.
    signed_at = parsedate_to_datetime(headers["date"])
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    return Signer(actor_id, actor, signed_at)


def shared_inbox(actor: dict[str, Any]) -> str | None:
    """Where a follower's server takes deliveries: its shared inbox, or the inbox of an
    actor that is itself a server (a relay, Gancio's instance actor). A person with no
    shared inbox gets None: storing their own inbox would be storing who follows."""
    endpoints = actor.get("endpoints")
    if isinstance(endpoints, dict) and isinstance(endpoints.get("sharedInbox"), str):
        return endpoints["sharedInbox"]
    if actor.get("type") in SERVER_TYPES and isinstance(actor.get("inbox"), str):
        return actor["inbox"]
    return None


def follower_hash(actor_id: str) -> str:
    return keyed_hash("activitypub-follower", actor_id)


def receive(session: Session, activity: dict[str, Any], signer: Signer) -> str:
    """Act on a signed Follow or Undo{Follow}; returns what was done (for tests and counts).

    A Follow or Undo whose signed Date is not newer than the last one taken from the same
    actor is a replay (a signed request holds for WINDOW): "replayed", nothing done.

    :raise Unauthorized: the activity's actor is not the signer.
    """
    if ident(activity.get("actor")) != signer.actor_id:
        raise Unauthorized("actor is not the signer")
    ours = streams.actor_id(base_url())
    if activity["type"] == "Follow" and ident(activity.get("object")) != ours:
        return "ignored"
    undo = activity["type"] == "Undo"
    try:
        fresh = newest(session, follower_hash(signer.actor_id), signer.signed_at, same_ok=undo)
    except IntegrityError:  # the same actor's request at the same instant took the row
        session.rollback()
        return "replayed"
    if not fresh:
        session.commit()
        return "replayed"
    if activity["type"] == "Follow":
        return follow(session, activity, signer)
    inner = activity.get("object")
    if isinstance(inner, dict):
        if ident(inner.get("actor")) not in (None, signer.actor_id):
            raise Unauthorized("undo of another actor's follow")
        if ident(inner.get("object")) not in (None, ours):
            return "ignored"
    return unfollow(session, signer.actor_id)


def newest(session: Session, digest: str, signed_at: datetime, same_ok: bool = False) -> bool:
    """Whether `signed_at` is newer than the last Follow or Undo taken from the follower
    hashed `digest` (or, `same_ok`, as new: an Undo signed in the second of its Follow);
    if so it becomes the last (no commit). What is older than WINDOW is forgotten: a
    request signed before then is refused by its Date anyway."""
    session.execute(delete(ApFollowSeen).where(ApFollowSeen.signed_at < utcnow() - WINDOW))
    seen = session.get(ApFollowSeen, digest)
    if seen is not None and (
        signed_at < seen.signed_at or (signed_at == seen.signed_at and not same_ok)
    ):
        return False
    if seen is None:
        session.add(ApFollowSeen(actor_hash=digest, signed_at=signed_at))
    else:
        seen.signed_at = signed_at
    session.flush()
    return True


def full_reason(session: Session, server: ApServer | None) -> str | None:
    """Why a new follower cannot be taken, or None: its server has
    MAPAPP_ACTIVITYPUB_SERVER_FOLLOWERS followers ("server_full"), or it is a new server and
    there are MAPAPP_ACTIVITYPUB_SERVERS ("too_many_servers")."""
    config = current_app.config
    if server is None:
        servers = session.scalar(select(func.count()).select_from(ApServer)) or 0
        return "too_many_servers" if servers >= int(config["ACTIVITYPUB_SERVERS"]) else None
    followers = session.scalar(select(func.count()).where(ApFollower.server_id == server.id))
    return (
        "server_full" if (followers or 0) >= int(config["ACTIVITYPUB_SERVER_FOLLOWERS"]) else None
    )


def follow(session: Session, activity: dict[str, Any], signer: Signer) -> str:
    """Keep the follower's server and hash; queue a signed Accept to its shared inbox.

    A new follower past a cap (full_reason) is not kept and gets no Accept: its server
    shows the Follow as pending."""
    inbox = shared_inbox(signer.actor)
    if inbox is None:
        return "no_shared_inbox"
    if host_of(inbox) != host_of(signer.actor_id):
        return "bad_inbox"  # deliveries go to the follower's own server, nowhere else
    try:
        net.target(inbox)  # a public https address (checked again at each delivery)
    except net.NetError:
        return "bad_inbox"
    server = session.scalars(select(ApServer).where(ApServer.inbox == inbox)).first()
    digest = follower_hash(signer.actor_id)
    follower = session.get(ApFollower, digest)
    full = None if follower is not None else full_reason(session, server)
    if full is not None:
        session.commit()  # the Follow's Date (ap_follow_seen), nothing else
        log.info("ActivityPub Follow not accepted: %s", full)
        return full
    if server is None:
        server = ApServer(inbox=inbox, next_at=utcnow(), attempts=0)
        session.add(server)
        session.flush()
    if follower is None:
        session.add(ApFollower(actor_hash=digest, server_id=server.id))
    else:
        follower.server_id = server.id
    # The Follow as Mastodon matches it (its id, actor, object), nothing more kept.
    accepted = {
        "id": ident(activity),
        "type": "Follow",
        "actor": signer.actor_id,
        "object": streams.actor_id(base_url()),
    }
    accept = streams.activity("Accept", accepted, base_url(), utcnow())
    waiting = session.scalar(
        select(func.count()).where(
            ApDelivery.server_id == server.id,
            ApDelivery.delivered_at.is_(None),
            ApDelivery.body.contains(ACCEPT_MARK),
        )
    )
    if (waiting or 0) < MAX_ACCEPTS_WAITING:
        session.add(ApDelivery(server_id=server.id, body=json.dumps(accept), attempts=0))
    session.commit()
    return "followed"


def unfollow(session: Session, actor_id: str) -> str:
    """Forget a follower; a server left with none is forgotten with its deliveries."""
    follower = session.get(ApFollower, follower_hash(actor_id))
    if follower is None:
        return "not_following"
    server_id = follower.server_id
    session.delete(follower)
    session.flush()
    left = session.scalar(select(func.count()).where(ApFollower.server_id == server_id))
    if not left:
        drop_server(session, server_id)
    session.commit()
    return "unfollowed"


def drop_server(session: Session, server_id: int) -> None:
    """Forget a server: its deliveries, its followers' hashes and its inbox (no commit)."""
    session.execute(delete(ApDelivery).where(ApDelivery.server_id == server_id))
    session.execute(delete(ApFollower).where(ApFollower.server_id == server_id))
    session.execute(delete(ApServer).where(ApServer.id == server_id))


def follower_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApFollower)) or 0
