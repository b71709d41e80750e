"""ActivityStreams documents of the map, for ActivityPub (mapapp.channels.activitypub).

Builders only: no request, no database, no network. Each takes the site's base URL
(MAPAPP_BASE_URL, never a request's Host) and PublicRally values from the one public
projection, so a document says only what the public sees: before its reveal a rally's
`location` is its town alone, with no coordinates. The shapes follow what Mastodon and
Mobilizon read (docs/partners.md, "ActivityPub", cites their code).

Addresses (all under the base URL): the actor `/ap/actor`, its inbox `/ap/actor/inbox`, the
shared inbox `/ap/inbox`, the outbox `/ap/actor/outbox`, the followers `/ap/actor/followers`,
each rally's Event `/ap/rallies/<id>`, each Note `/ap/notes/<token>`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from html import escape
from typing import Any

from mapapp.domain.names import town_name
from mapapp.places.locale import LANGUAGES, local_datetime
from mapapp.publishing.public import PublicRally
from mapapp.publishing.words import (
    headed_title,
    headline,
    place_note,
    revealed_sentence,
    verification_sentence,
)

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    # Mobilizon reads an Event's status and time zone under these names.
    {
        "ical": "http://www.w3.org/2002/12/cal/ical#",
        "timezone": "https://joinmobilizon.org/ns#timezone",
    },
]
ACTIVITY_JSON = "application/activity+json"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.1"
APPLICATION_ACTOR_REL = "https://www.w3.org/ns/activitystreams#Application"  # FEP-2677
PAGE_SIZE = 20  # items of an outbox page

# Why a Note of its own: Mastodon shows an Event as its name and link, and before 4.5
# ignores an Update of it, so these changes would not reach its users otherwise.
NOTE_KINDS = ("danger", "cancelled", "moved", "rescheduled", "revealed")


def actor_id(base: str) -> str:
    return f"{base}/ap/actor"


def event_id(base: str, rally_id: int) -> str:
    return f"{base}/ap/rallies/{rally_id}"


def iso(moment: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a Z (what Mastodon and Mobilizon parse)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def actor(base: str, name: str, public_key_pem: str, title: str, summary: str) -> dict[str, Any]:
    """The instance actor (type Application): Mastodon needs `inbox`, `publicKey` and
    `preferredUsername`; `endpoints.sharedInbox` lets servers send us one copy each."""
    ident = actor_id(base)
    return {
        "@context": CONTEXT,
        "id": ident,
        "type": "Application",
        "preferredUsername": name,
        "name": title,
        "summary": f"<p>{escape(summary)}</p>",
        "url": f"{base}/",
        "inbox": f"{ident}/inbox",
        "outbox": f"{ident}/outbox",
        "followers": f"{ident}/followers",
        "endpoints": {"sharedInbox": f"{base}/ap/inbox"},
        "manuallyApprovesFollowers": False,
        "discoverable": True,
        "publicKey": {"id": f"{ident}#main-key", "owner": ident, "publicKeyPem": public_key_pem},
    }


def webfinger(base: str, name: str, host: str) -> dict[str, Any]:
    """The WebFinger answer (RFC 7033) for acct:NAME@HOST, as Mastodon's lookup reads it."""
    ident = actor_id(base)
    return {
        "subject": f"acct:{name}@{host}",
        "aliases": [ident],
        "links": [
            {"rel": "self", "type": ACTIVITY_JSON, "href": ident},
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": f"{base}/",
            },
        ],
    }


def nodeinfo_links(base: str) -> dict[str, Any]:
    """/.well-known/nodeinfo: the 2.1 document, and the application actor (FEP-2677)."""
    return {
        "links": [
            {"rel": NODEINFO_SCHEMA, "href": f"{base}/nodeinfo/2.1"},
            {"rel": APPLICATION_ACTOR_REL, "href": actor_id(base)},
        ]
    }


def nodeinfo(version: str, title: str, posts: int) -> dict[str, Any]:
    """NodeInfo 2.1: the software, ActivityPub, no registrations, no user counts (there are
    no users to count: one application actor), the public rallies as local posts."""
    return {
        "version": "2.1",
        "software": {"name": "mapapp", "version": version},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0"]},
        "openRegistrations": False,
        "usage": {"users": {}, "localPosts": posts},
        "metadata": {"nodeName": title},
    }


def host_meta(base: str) -> str:
    """/.well-known/host-meta (RFC 6415): where WebFinger is, for older clients."""
    template = escape(f"{base}/.well-known/webfinger?resource={{uri}}", quote=True)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/xrd+xml" template="{template}"/>\n'
        "</XRD>\n"
    )


def followers(base: str, count: int) -> dict[str, Any]:
    """The followers collection: how many, never who (no items, no pages)."""
    return {
        "@context": CONTEXT[0],
        "id": f"{actor_id(base)}/followers",
        "type": "OrderedCollection",
        "totalItems": count,
    }


def where(rally: PublicRally, lang: str) -> str:
    """The town, and the place once it is public."""
    town = town_name(rally, lang)
    return f"{town}, {rally.place}" if rally.place else town


def event_content(rally: PublicRally, lang: str) -> str:
    """The Event's HTML content in `lang`: warning, where and when, the description, the
    reveal note, how it was checked. Every piece of user text escaped."""
    parts = []
    lead = headline(rally, lang)
    if lead:
        parts.append(f"<p><strong>{escape(lead)}</strong></p>")
    parts.append(
        f"<p>{escape(where(rally, lang))}<br>{escape(local_datetime(rally.starts_at, 'full', lang))}</p>"
    )
    if rally.description:
        parts.append(f"<p>{escape(rally.description)}</p>")
    note = place_note(rally, lang)
    if note:
        parts.append(f"<p>{escape(note)}</p>")
    parts.append(f"<p>{escape(verification_sentence(rally, lang))}</p>")
    return "".join(parts)


def location(rally: PublicRally, lang: str) -> dict[str, Any]:
    """A Place: the town until the reveal (no coordinates: only the town's name), the place
    with its coordinates after. Mobilizon reads `address` (a PostalAddress) and the point."""
    town = town_name(rally, lang)
    place: dict[str, Any] = {
        "type": "Place",
        "name": where(rally, lang),
        "address": {
            "type": "PostalAddress",
            "addressLocality": town,
            "addressCountry": "BY",
        },
    }
    if rally.exact and rally.place:
        place["address"]["streetAddress"] = rally.place
        place["latitude"] = round(rally.lat, 6)
        place["longitude"] = round(rally.lon, 6)
    return place


def event(rally: PublicRally, base: str, lang: str) -> dict[str, Any]:
    """A rally as an ActivityStreams Event, in `lang` with every language in the maps."""
    ident = actor_id(base)
    names = {code: headed_title(rally, code) for code in LANGUAGES}
    contents = {code: event_content(rally, code) for code in LANGUAGES}
    status = "CANCELLED" if rally.status == "cancelled" else "CONFIRMED"
    document: dict[str, Any] = {
        "id": event_id(base, rally.id),
        "type": "Event",
        "attributedTo": ident,
        "to": [PUBLIC],
        "cc": [f"{ident}/followers"],
        "name": names[lang],
        "nameMap": names,
        "content": contents[lang],
        "contentMap": contents,
        "mediaType": "text/html",
        "url": f"{base}/rallies/{rally.id}?lang={lang}",
        "startTime": iso(rally.starts_at),
        "updated": iso(rally.updated_at),
        "location": location(rally, lang),
        "timezone": "Europe/Minsk",
        "inLanguage": lang,
        # Mobilizon reads `status`, falling back to `ical:status` (older versions).
        "status": status,
        "ical:status": status,
        # No comments, no participation here: Mobilizon shows a button to the rally's page.
        "commentsEnabled": False,
        "repliesModerationOption": "closed",
        "joinMode": "external",
        "externalParticipationUrl": f"{base}/rallies/{rally.id}?lang={lang}",
        "anonymousParticipationEnabled": False,
        "sensitive": False,
    }
    if rally.ends_at is not None:
        document["endTime"] = iso(rally.ends_at)
    return document


def note_text(rally: PublicRally, kind: str, lang: str) -> str:
    """The one sentence of an urgent change in `lang` (never free text but the place)."""
    if kind == "revealed" and rally.place:
        return revealed_sentence(rally.place, lang)
    return headline(rally, lang) or headed_title(rally, lang)


def note_id(base: str, token: str) -> str:
    return f"{base}/ap/notes/{token}"


def note(
    rally: PublicRally, kind: str, base: str, lang: str, now: datetime, token: str
) -> dict[str, Any]:
    """A short Note for an urgent change (NOTE_KINDS): the sentence, the rally's title, town
    and time, and its page, so Mastodon's users see it as a post of its own. `token` (random,
    kept by the caller) makes its id, `/ap/notes/<token>`."""
    ident = actor_id(base)
    page = f"{base}/rallies/{rally.id}?lang="

    def text(code: str) -> str:
        when = local_datetime(rally.starts_at, "full", code)
        link = escape(page + code, quote=True)
        return (
            f"<p><strong>{escape(note_text(rally, kind, code))}</strong></p>"
            f"<p>{escape(rally.title)}<br>{escape(where(rally, code))}<br>{escape(when)}</p>"
            f'<p><a href="{link}">{escape(page + code)}</a></p>'
        )

    contents = {code: text(code) for code in LANGUAGES}
    return {
        "id": note_id(base, token),
        "type": "Note",
        "attributedTo": ident,
        "to": [PUBLIC],
        "cc": [f"{ident}/followers"],
        "content": contents[lang],
        "contentMap": contents,
        "url": page + lang,
        "published": iso(now),
        "sensitive": False,
    }


def activity(kind: str, obj: dict[str, Any] | str, base: str, now: datetime) -> dict[str, Any]:
    """A Create, Update, Delete or Accept by the instance actor, with a fresh id."""
    ident = actor_id(base)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{base}/ap/activities/{kind.lower()}-{secrets.token_hex(8)}",
        "type": kind,
        "actor": ident,
        "object": obj,
    }
    if kind != "Accept":
        document |= {"published": iso(now), "to": [PUBLIC], "cc": [f"{ident}/followers"]}
    return document


def tombstone(ident: str) -> dict[str, Any]:
    """What a Delete names (an Event's or a Note's id): Mastodon removes the status made
    from it by its id."""
    return {"id": ident, "type": "Tombstone"}


def outbox(base: str, total: int) -> dict[str, Any]:
    """The outbox collection: how many, and its first and last pages."""
    ident = f"{actor_id(base)}/outbox"
    last = max(1, -(-total // PAGE_SIZE))
    return {
        "@context": CONTEXT[0],
        "id": ident,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": f"{ident}?page=1",
        "last": f"{ident}?page={last}",
    }


def outbox_page(
    base: str, rallies: list[PublicRally], page: int, total: int, lang: str
) -> dict[str, Any]:
    """One page of the outbox: a Create of each public rally's Event as it is now. The
    activity ids are stable (the rally and its public revision), as a reader re-reads pages."""
    ident = f"{actor_id(base)}/outbox"
    items = []
    for rally in rallies:
        obj = event(rally, base, lang)
        items.append(
            {
                "id": f"{obj['id']}/activity/{rally.sequence}",
                "type": "Create",
                "actor": actor_id(base),
                "published": obj["updated"],
                "to": obj["to"],
                "cc": obj["cc"],
                "object": obj,
            }
        )
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{ident}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": ident,
        "totalItems": total,
        "orderedItems": items,
    }
    if page > 1:
        document["prev"] = f"{ident}?page={page - 1}"
    if page * PAGE_SIZE < total:
        document["next"] = f"{ident}?page={page + 1}"
    return document
