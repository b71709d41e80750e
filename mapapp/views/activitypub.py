"""ActivityPub, WebFinger and NodeInfo: Mastodon, Mobilizon and Gancio follow the map.

Thin: the documents come from mapapp.publishing.activitystreams, the inbox's work from
mapapp.channels.activitypub.federation. Every address is a 404 while MAPAPP_ACTIVITYPUB
is off. Ids are on MAPAPP_BASE_URL, never on a request's Host.
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, request
from flask_babel import force_locale, gettext

from mapapp.channels.activitypub import federation, httpsig, keys
from mapapp.domain import db
from mapapp.domain.filters import RallyFilter
from mapapp.domain.models import ApNote, utcnow
from mapapp.publishing import activitystreams as streams
from mapapp.publishing.public import count_public, public_rallies, public_rally
from mapapp.web.forms import csrf
from mapapp.web.limits import client_key, limiter

bp = Blueprint("activitypub", __name__)
log = logging.getLogger(__name__)

MAX_PAGE = 10_000  # outbox pages beyond this are a 404, not a deep OFFSET
INBOX_LIMIT = "120 per minute"  # per client address: each Follow may make us fetch a key


@bp.before_request
def only_when_on() -> None:
    if not current_app.config.get("ACTIVITYPUB"):
        abort(404)


def base() -> str:
    return federation.base_url()


def language() -> str:
    return current_app.config.get("ACTIVITYPUB_LANGUAGE") or "be"


def as_json(
    document: Any, content_type: str = streams.ACTIVITY_JSON, seconds: int = 60
) -> Response:  # noqa: ANN401
    response = Response(json.dumps(document, ensure_ascii=False), content_type=content_type)
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def site_title() -> str:
    with force_locale(language()):
        return gettext("Rally map of Belarus")


@bp.get("/.well-known/webfinger")
def webfinger() -> Response:
    resource = request.args.get("resource", "")
    if not resource:
        abort(400, description="resource is required: acct:NAME@HOST")
    name = current_app.config["ACTIVITYPUB_NAME"]
    host = urlsplit(base()).netloc
    if resource.lower() not in (f"acct:{name}@{host}".lower(), streams.actor_id(base()).lower()):
        abort(404)
    return as_json(streams.webfinger(base(), name, host), "application/jrd+json", 3600)


@bp.get("/.well-known/host-meta")
def host_meta() -> Response:
    response = Response(streams.host_meta(base()), content_type="application/xrd+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/.well-known/nodeinfo")
def nodeinfo_links() -> Response:
    return as_json(streams.nodeinfo_links(base()), "application/json", 3600)


@bp.get("/nodeinfo/2.1")
def nodeinfo() -> Response:
    try:
        version = package_version("mapapp")
    except PackageNotFoundError:
        version = "0"
    posts = count_public(db.session(), RallyFilter(when="all"))
    profile = f'application/json; profile="{streams.NODEINFO_SCHEMA}#"'
    return as_json(streams.nodeinfo(version, site_title(), posts), profile, 600)


@bp.get("/ap/actor")
def actor() -> Response:
    with force_locale(language()):
        summary = gettext(
            "New rallies, changes and warnings from the map, in Belarusian, Russian and English."
        )
    pem = httpsig.public_pem(keys.private_key())
    name = current_app.config["ACTIVITYPUB_NAME"]
    return as_json(streams.actor(base(), name, pem, site_title(), summary), seconds=300)


@bp.get("/ap/actor/followers")
def followers() -> Response:
    return as_json(streams.followers(base(), federation.follower_count(db.session())))


@bp.get("/ap/actor/outbox")
def outbox() -> Response:
    session, rally_filter = db.session(), RallyFilter(when="all")
    total = count_public(session, rally_filter)
    page = request.args.get("page")
    if page is None:
        return as_json(streams.outbox(base(), total), seconds=30)
    if not (page.isascii() and page.isdigit() and len(page) <= 9) or not 1 <= int(page) <= MAX_PAGE:
        abort(400, description="page is a number from 1")
    number = int(page)
    size = streams.PAGE_SIZE
    rallies = public_rallies(session, rally_filter, limit=size, offset=(number - 1) * size)
    return as_json(streams.outbox_page(base(), rallies, number, total, language()), seconds=30)


@bp.get("/ap/rallies/<int:rally_id>")
def rally_event(rally_id: int) -> Response:
    view = public_rally(db.session(), rally_id)
    if view is None:
        abort(404)
    document = {"@context": streams.CONTEXT, **streams.event(view, base(), language())}
    return as_json(document, seconds=30)


@bp.get("/ap/notes/<token>")
def note(token: str) -> Response:
    session = db.session()
    kept = session.get(ApNote, token) if len(token) <= 32 else None
    if kept is None or public_rally(session, kept.rally_id) is None:
        abort(404)
    return as_json({"@context": streams.CONTEXT, **json.loads(kept.body)}, seconds=300)


@bp.post("/ap/inbox")
@bp.post("/ap/actor/inbox")
@csrf.exempt  # signed by the sending server instead (HTTP signatures)
@limiter.limit(INBOX_LIMIT)
def inbox() -> Response:
    length = request.content_length
    if length is None:
        abort(411)
    if length > federation.MAX_BODY:
        abort(413)
    body = request.get_data(cache=False)
    if len(body) > federation.MAX_BODY:
        abort(413)
    try:
        activity = federation.parse_activity(body)
    except federation.BadActivity as error:
        abort(400, description=str(error))
    if not federation.wanted(activity):
        return Response(status=202)  # anything but Follow and Undo{Follow}: ignored, unread
    headers = {name.lower(): value for name, value in request.headers.items()}
    path = request.full_path if request.query_string else request.path
    path = request.script_root + path
    try:
        # Before any database access: no write lock is held while a key is fetched.
        signer = federation.authenticate("POST", path, headers, body, utcnow(), client_key())
        federation.receive(db.session(write=True), activity, signer)
    except federation.Unauthorized as error:
        log.info("ActivityPub inbox refused a request: %s", error.reason)
        abort(401)
    except federation.Busy:
        return Response(status=503, headers={"Retry-After": "30"})
    return Response(status=202)
