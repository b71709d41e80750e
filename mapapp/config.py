"""The one declared list of settings.

Each setting has a default and a line of help. ``create_app`` layers them:
defaults, then ``MAPAPP_<NAME>`` environment variables, then ``test_config``.
The settings table in docs/operators.md is checked against this list (tests/test_docs.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    def parse(self, raw: str) -> Any:
        """Turn an environment string into the type of the default."""
        if isinstance(self.default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(self.default, int):
            return int(raw)
        return raw


SETTINGS: list[Setting] = [
    Setting("SECRET_KEY", None, "Signs sessions and CSRF tokens. Required outside development."),
    Setting(
        "DATABASE_URL",
        None,
        "SQLAlchemy URL. Default: SQLite file instance/mapapp.sqlite3. "
        "Plain DATABASE_URL is accepted too (postgres:// and postgresql:// use psycopg).",
    ),
    Setting("REDIS_URL", None, "Optional. Shares rate limits and caches across gunicorn workers."),
    Setting(
        "HASH_KEY",
        None,
        "Key of the keyed hashes of client addresses (rate limits, failed log-ins) and Telegram "
        "chat ids: give it from a secrets store, never a file on the server's disk. Unset: a "
        "random key in memory, shared by the gunicorn workers of one server.",
    ),
    Setting(
        "TILE_URL",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Map tile URL template; the only host pages may load from.",
    ),
    Setting(
        "TILE_ATTRIBUTION",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        "Attribution line for the tiles (trusted HTML, set by the operator).",
    ),
    Setting(
        "TILE_PROXY",
        True,
        "Serve tiles through the app (cached in instance/tiles), so browsers ask no other host; "
        "0 lets browsers fetch TILE_URL directly.",
    ),
    Setting(
        "EXPORT_TILES",
        False,
        "Offline copies (export-static, /offline.html) ask TILE_URL for tiles when opened "
        "online. Off: they draw the app's own basemap only and ask no other host.",
    ),
    Setting(
        "TILE_USER_AGENT",
        "mapapp tile proxy (rally map of Belarus)",
        "User-Agent the tile proxy sends to the tile server (its usage policy asks for one).",
    ),
    Setting(
        "TILE_FETCH_LIMIT",
        "600 per minute",
        "Most tiles the proxy may fetch from the tile server, for the whole site.",
    ),
    Setting("TILE_CACHE_MB", 2048, "Disk budget of the tile proxy's cache (instance/tiles), MB."),
    Setting("GEOCODER", "offline", "offline (the shipped gazetteer) or nominatim."),
    Setting("NOMINATIM_URL", "https://nominatim.openstreetmap.org", "Nominatim base URL."),
    Setting("NOMINATIM_USER_AGENT", None, "Required with GEOCODER=nominatim: who is asking."),
    Setting("NOMINATIM_TIMEOUT", 4, "Seconds to wait for Nominatim before using the gazetteer."),
    Setting("GEOCODE_LIMIT", "30 per minute", "Rate limit of /api/geocode per client address."),
    Setting(
        "TRUSTED_PROXIES",
        0,
        "How many reverse proxies in front set X-Forwarded-For, -Proto and -Prefix (0: trust none). "
        "X-Forwarded-Host is never trusted.",
    ),
    Setting(
        "BASE_URL",
        None,
        "The site's canonical address, https://host[/prefix]: absolute links are built from it, "
        "and a request for a host not declared here or in HOSTS/ONION_URL is refused. "
        "Unset: only localhost names are served.",
    ),
    Setting(
        "HOSTS",
        "",
        "Other addresses of the same site, space-separated origins (https://mirror.example): "
        "mirrors whose pages link to themselves.",
    ),
    Setting(
        "SECURITY_CONTACT",
        None,
        "Where to report a vulnerability (mailto:... or https://...), published in "
        "/.well-known/security.txt (RFC 9116); unset, that file is a 404.",
    ),
    Setting(
        "ONION_URL",
        None,
        "The site's Tor onion address (http://xxx.onion[/prefix]): served too, and pages "
        "elsewhere send Onion-Location.",
    ),
    Setting(
        "CACHE_SECONDS",
        30,
        "How long browsers and CDNs may keep map data (seconds). Keep it at most 30: with an "
        "open page re-checking as often, a danger warning reaches it within a minute.",
    ),
    Setting(
        "REFRESH_SECONDS",
        25,
        "How often open maps, embeds and rally pages re-check their data (seconds); with "
        "CACHE_SECONDS, how late an urgent status may reach them.",
    ),
    Setting(
        "SUBMIT_LIMIT",
        "20 per hour",
        "Rate limit of rallies sent from the form and of manage form posts per address.",
    ),
    Setting(
        "SUBMIT_TRY_LIMIT",
        "120 per hour",
        "Rate limit of the form's previews, corrections and town choices per address (only "
        "the final send counts toward SUBMIT_LIMIT).",
    ),
    Setting(
        "BUILD_LIMIT",
        "30 per minute",
        "Costly answers not already built (share images, offline copies, feeds and pages for "
        "new query strings) one client address may cause; past it a 429. Built ones are "
        "always served.",
    ),
    Setting(
        "BUILD_TOTAL_LIMIT",
        "600 per minute",
        "The same, for all clients together: what the workers may spend on new builds.",
    ),
    Setting(
        "PENDING_LIMIT",
        300,
        "Most rallies waiting for moderators at once, from the form and the bot together; "
        "past it new submissions are refused and the moderation page says so.",
    ),
    Setting(
        "LOGIN_LIMIT",
        "10 per 15 minutes",
        "Failed moderator log-ins allowed per client address (and per browser a moderator "
        "used before), counted by all workers together.",
    ),
    Setting(
        "LOGIN_ACCOUNT_LIMIT",
        "30 per hour",
        "Failed log-ins allowed per moderator account from browsers it never logged in "
        "with, whatever their addresses (stops a distributed guess).",
    ),
    Setting("CONTACT_DAYS", 7, "Days after a rally ends before `purge` deletes its contact."),
    Setting(
        "CONTACT_KEY",
        None,
        "Fernet key(s), space-separated, that encrypt organizer contacts in the database: the "
        "first encrypts, all decrypt. Without one, contacts are not taken outside development.",
    ),
    Setting(
        "REJECTED_DAYS",
        30,
        "Days after a rally is rejected or withdrawn before `purge` deletes its texts.",
    ),
    Setting(
        "EMBED_ORIGINS",
        None,
        "Space-separated origins (https://news.example) that may frame /embed; "
        "unset: any site may.",
    ),
    Setting(
        "TELEGRAM_BOT_TOKEN",
        None,
        "Token of the Telegram bot (from @BotFather): enables the channel and the bot. Secret.",
    ),
    Setting(
        "TELEGRAM_CHANNEL",
        None,
        "Channel the map posts to: @name or a numeric id; or one per region, "
        "'BY-HR=@a BY-BR=@b *=@others'. Unset: the bot only takes submissions.",
    ),
    Setting(
        "TELEGRAM_API_URL",
        "https://api.telegram.org",
        "Telegram Bot API server (a local Bot API server, or the tests' fake).",
    ),
    Setting("TELEGRAM_LANGUAGE", "be", "Language of the channel's messages: be, ru or en."),
    Setting(
        "ACTIVITYPUB",
        False,
        "Mastodon, Mobilizon and Gancio can follow the map: the instance actor, WebFinger, "
        "NodeInfo, the inbox and outbox; needs BASE_URL, and HASH_KEY outside development.",
    ),
    Setting(
        "ACTIVITYPUB_NAME",
        "rallymap",
        "The instance actor's user name: followers type @NAME@host (letters, digits, _).",
    ),
    Setting(
        "ACTIVITYPUB_KEY",
        None,
        "The actor's RSA private key, PEM in base64 on one line, from a secrets store. Unset: "
        "made once in instance/activitypub_key.pem (mode 0600).",
    ),
    Setting(
        "ACTIVITYPUB_LANGUAGE",
        "be",
        "Default language of the Events and Notes (be, ru or en); the others go in nameMap "
        "and contentMap.",
    ),
    Setting(
        "ACTIVITYPUB_DROP_DAYS",
        3,
        "A follower's server that has failed every delivery for this many days is dropped "
        "with its followers.",
    ),
    Setting(
        "ACTIVITYPUB_SERVER_FOLLOWERS",
        2000,
        "Followers one server may have, at most: a further Follow from there is not accepted "
        "(a hostile server could make accounts by the thousand).",
    ),
    Setting(
        "ACTIVITYPUB_SERVERS",
        5000,
        "Follower servers, at most: a Follow from a further server is not accepted.",
    ),
    Setting(
        "ACTIVITYPUB_ALLOW_LOCAL",
        False,
        "Tests only: let the inbox fetch keys from, and the worker deliver to, http:// and "
        "loopback or private addresses (the tests' fake server).",
    ),
    Setting(
        "PREPARE_DOCUMENTS",
        True,
        "After a change to what the public sees, the process that made it builds the common "
        "documents of the new data version (the GeoJSON, the map's feed, the calendar and the "
        "CSV, with no filter and with `when=all`, each language) in a thread of its own, after "
        "its answer is sent, and "
        "keeps them for every worker and server. A worker that serves requests also prepares "
        "them a random 0-3 s after each moment the data version moves by itself (a reveal "
        "time, a rally turning past), at most once a minute.",
    ),
    Setting(
        "PREPARE_IN_CHILD",
        True,
        "A worker that serves requests prepares the common documents (PREPARE_DOCUMENTS) in a "
        "short-lived child process of its own, which gives the preparation's memory back to the "
        "system when it ends (at 100,000 rallies 320-340 MiB at its peak); 0: in a thread of "
        "the worker. Commands (imports, demo data) prepare in a thread either way.",
    ),
    Setting(
        "ACCESS_LOG",
        False,
        "gunicorn writes an access log to stdout: method, route (/manage/<token>, never the "
        "address typed or the token), status, size, time; no client address.",
    ),
    Setting(
        "THREADS",
        4,
        "Threads per gunicorn worker (mapapp/web/gunicorn_conf.py); plain GUNICORN_THREADS is accepted too.",
    ),
    Setting(
        "SIGNING_KEY",
        None,
        "Ed25519 key (made by `flask --app mapapp signing-key`) that signs the export, "
        "/api/rallies.geojson, /rallies.ics and /offline.html in minisign's format; unset: "
        "nothing is signed.",
    ),
    Setting(
        "APPROVALS",
        None,
        "How many different moderators must approve publishing a rally, an edit of its place "
        "or time, a take-down, cancel, restore or move. Unset: 2, or 1 with DEVELOPMENT.",
    ),
    Setting(
        "DANGER_ALONE_PER_HOUR",
        3,
        "How many danger warnings one moderator may set alone in an hour; with APPROVALS of "
        "2 or more, each one past it waits for APPROVALS moderators (a seized account cannot "
        "mark every rally dangerous at once). 0: none alone.",
    ),
    Setting(
        "SECOND_FACTOR",
        None,
        "required or optional: whether moderators must log in with a TOTP code (or a one-time "
        "recovery code) after their password. Unset: required, optional with DEVELOPMENT.",
    ),
    Setting(
        "SECOND_FACTOR_LIMIT",
        "5 per 15 minutes",
        "Wrong second-factor codes allowed per moderator account (counted by a keyed hash).",
    ),
    Setting(
        "REPORT_LIMIT",
        "10 per hour",
        "Visitors' reports on rallies one client address may send (counted by a keyed hash).",
    ),
    Setting(
        "REPORTS_WAITING_LIMIT",
        2000,
        "Most visitors' reports waiting for moderators at once, all rallies together (and 100 "
        "on one rally); past it a report is refused with a 503, what was typed kept.",
    ),
    Setting(
        "DEVELOPMENT",
        False,
        "Local development over plain HTTP: session cookies without Secure (make run sets it).",
    ),
]

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


def from_environ(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings given in the environment as MAPAPP_<NAME> (and plain DATABASE_URL)."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    if environ.get("DATABASE_URL"):
        found["DATABASE_URL"] = environ["DATABASE_URL"]
    if environ.get("GUNICORN_THREADS"):
        found["THREADS"] = int(environ["GUNICORN_THREADS"])
    for setting in SETTINGS:
        raw = environ.get(f"MAPAPP_{setting.name}")
        if raw is not None and raw != "":
            found[setting.name] = setting.parse(raw)
    return found


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in SETTINGS}
