"""Rallies as an Atom feed (RFC 4287), for feed readers.

Pure apart from the sentences (mapapp.publishing.words, in the feed's language): the caller
passes the links, each rally's feed key and its urgent news. One entry a rally, whose id
never changes and whose `updated` is the rally's last public change (its reveal included),
so readers update it in place; and one short entry of its own for each urgent change
(danger, cancelled, moved, rescheduled, the place revealed), for readers that only show new
entries. Every id is a tag: URI (RFC 4151) holding the rally's random feed key, and an urgent
entry's also the instant of its change: an id a restore hands out again, or a change after
it, never repeats an id a reader has seen. A rally taken down leaves RFC 6721 deletion
markers (`at:deleted-entry`: its entries' ids and when, nothing else) for 30 days. Text is escaped as XML, and characters XML cannot
carry are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

from mapapp.places.locale import local_datetime
from mapapp.publishing.parts import Layout
from mapapp.publishing.public import PublicRally
from mapapp.publishing.words import (
    headed_title,
    place_note,
    revealed_sentence,
    status_sentence,
    time_change_sentence,
)

# RFC 6721's namespace: `at:deleted-entry` marks an entry deleted.
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
# The year in every tag: URI (RFC 4151 wants a date at which the authority was the minter's).
TAG_DATE = "2020"
# Characters XML 1.0 cannot hold, even escaped (control characters, lone surrogates...).
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Gone(Protocol):
    """A rally taken down, as mapapp.domain.news.gone_since gives it."""

    rally_id: int
    key: str
    at: datetime
    news: list[News]


class News(Protocol):
    """An urgent change as mapapp.domain.news keeps it (a RallyNews row)."""

    kind: str
    at: datetime
    starts_at: datetime
    previous_starts_at: datetime | None


@dataclass(frozen=True)
class FeedInfo:
    """What the feed's head says: its language, title, id and links."""

    lang: str
    title: str
    subtitle: str
    authority: str  # the tag: URIs' host name (MAPAPP_BASE_URL's)
    feed_path: str  # what names this feed among others (its filters), in its id
    self_url: str  # this feed's address
    html_url: str  # the same rallies as a page
    site_url: str


def text(value: str) -> str:
    """User text as XML character data."""
    return escape(NOT_XML.sub("", value))


def attr(value: str) -> str:
    """A value as a quoted XML attribute."""
    return quoteattr(NOT_XML.sub("", value))


def timestamp(value: datetime) -> str:
    """RFC 3339 in UTC, as exact as it is kept (the W3C validator warns of two entries
    updated at the same instant): 2026-10-21T16:00:00Z, 2026-10-21T13:05:09.120331Z."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def rally_tag(authority: str, rally_id: int, key: str) -> str:
    return f"tag:{authority},{TAG_DATE}:rally-{rally_id}-{key}"


def news_tag(rally: str, kind: str, at: datetime) -> str:
    return f"{rally}-{kind}-{at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"


def changed_at(rally: PublicRally) -> datetime:
    """The rally's last public change: its version's time, or its reveal when later."""
    if rally.exact and rally.reveal_at is not None and rally.reveal_at > rally.updated_at:
        return rally.reveal_at
    return rally.updated_at


def feed_updated(rallies: list[PublicRally], news: Callable[[PublicRally], list[News]]) -> datetime:
    """The newest `updated` of the feed's entries (the epoch for an empty feed, so every
    worker writes the same bytes)."""
    times = [changed_at(r) for r in rallies] + [n.at for r in rallies for n in news(r)]
    return max(times, default=datetime(1970, 1, 1, tzinfo=UTC))


def tombstones(gone: list[Gone], authority: str) -> str:
    """RFC 6721 deletion markers for rallies taken down: one for each entry a rally had (its
    own and its urgent news'), with only its id (`ref`) and `when`."""
    out = []
    for rally in gone:
        tag = rally_tag(authority, rally.rally_id, rally.key)
        refs = [tag] + [news_tag(tag, item.kind, item.at) for item in rally.news]
        out += [
            f"<at:deleted-entry ref={attr(ref)} when={attr(timestamp(rally.at))}/>\n"
            for ref in refs
        ]
    return "".join(out)


def feed_layout(info: FeedInfo, updated: datetime, gone: list[Gone] | None = None) -> Layout:
    """The feed's head (its own elements, and the deletion markers of `gone`), no
    separator, and its end."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:at="{TOMBSTONES}"'
        f" xml:lang={attr(info.lang)}>\n"
        f"<id>{text(f'tag:{info.authority},{TAG_DATE}:rallies{info.feed_path}')}</id>\n"
        f"<title>{text(info.title)}</title>\n"
        f"<subtitle>{text(info.subtitle)}</subtitle>\n"
        f"<updated>{timestamp(updated)}</updated>\n"
        f'<link rel="self" type="application/atom+xml" href={attr(info.self_url)}/>\n'
        f'<link rel="alternate" type="text/html" href={attr(info.html_url)}/>\n'
        f"<author><name>{text(info.title)}</name><uri>{text(info.site_url)}</uri></author>\n"
        + tombstones(gone or [], info.authority)
    )
    return Layout(head.encode(), b"", b"</feed>\n")


def headline(rally: PublicRally, lang: str) -> str:
    """The rally's title led by what every output leads it with (mapapp.publishing.words.
    headline: an urgent status, else a time change with the old time)."""
    return headed_title(rally, lang)


def facts(rally: PublicRally, lang: str) -> str:
    """When and where, the place's announcement if it is not yet public, the description."""
    where = ", ".join(part for part in (rally.place, rally.town) if part)
    note = place_note(rally, lang)  # none for a cancelled rally: its place will not be announced
    lines = (local_datetime(rally.starts_at, "long", lang), where, note, rally.description)
    return "\n".join(line for line in lines if line)


def entry(tag: str, title: str, updated: datetime, url: str, summary: str, region: str) -> str:
    return (
        "<entry>\n"
        f"<id>{text(tag)}</id>\n"
        f"<title>{text(title)}</title>\n"
        f"<updated>{timestamp(updated)}</updated>\n"
        f'<link rel="alternate" type="text/html" href={attr(url)}/>\n'
        f"<category term={attr(region)}/>\n"
        f"<summary>{text(summary)}</summary>\n"
        "</entry>\n"
    )


def news_sentence(rally: PublicRally, news: News, lang: str) -> str:
    if news.kind == "rescheduled" and news.previous_starts_at is not None:
        return time_change_sentence(news.previous_starts_at, news.starts_at, lang)
    return status_sentence(news.kind, lang)


def rally_entries(
    rally: PublicRally, key: str, news: list[News], url: str, info: FeedInfo
) -> bytes:
    """The rally's entry, then one for each urgent change (`news`, and the reveal of its place
    once passed): one part of the feed (see mapapp.publishing.parts)."""
    lang, tag = info.lang, rally_tag(info.authority, rally.id, key)
    about = facts(rally, lang)
    out = [entry(tag, headline(rally, lang), changed_at(rally), url, about, rally.region)]
    for item in news:
        sentence = news_sentence(rally, item, lang)
        out.append(
            entry(
                news_tag(tag, item.kind, item.at),
                f"{sentence} {rally.title}",
                item.at,
                url,
                f"{sentence}\n{about}",
                rally.region,
            )
        )
    if rally.exact and rally.place and rally.reveal_at is not None:
        sentence = revealed_sentence(rally.place, lang)
        out.append(
            entry(
                news_tag(tag, "revealed", rally.reveal_at),
                f"{sentence} {rally.title}",
                rally.reveal_at,
                url,
                f"{sentence}\n{about}",
                rally.region,
            )
        )
    return "".join(out).encode()
