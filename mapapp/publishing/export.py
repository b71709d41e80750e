"""export-static: the map as one HTML file that works opened from disk.

Leaflet, supercluster, the styles, the map's modules (joined into one script) and the
rallies themselves are written into the file, so it needs no server: it can be passed
around on a USB stick or in a messenger when the site is blocked. It asks no other host: the
app's own basemap is in the file; only with MAPAPP_EXPORT_TILES (or --tiles) do tiles come
from MAPAPP_TILE_URL, online. Beside it go the rallies as GeoJSON and iCalendar and, with
MAPAPP_SIGNING_KEY, a minisign signature of each file.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import folium
from babel.dates import format_date
from flask import Flask, render_template
from flask_babel import gettext as _

from mapapp.domain import db
from mapapp.domain.filters import RallyFilter
from mapapp.domain.models import utcnow
from mapapp.paths import BASEMAP, DATA_DIR, MODULES, STATIC_DIR, SUPERCLUSTER, VENDOR
from mapapp.places import mapshell
from mapapp.places.regions import REGION_NAMES
from mapapp.publishing.geojson import feature_collection, in_language
from mapapp.publishing.ics import calendar
from mapapp.publishing.labels import map_labels, tile_attribution
from mapapp.publishing.public import localised, public_rallies
from mapapp.publishing.signing import signed_comment, signing_key
from mapapp.publishing.words import feed_notes

_CSS_IMAGE = re.compile(r"url\(images/([\w.-]+\.png)\)")
# The forms of import and export the map's modules use, and classic_script understands.
_IMPORT = re.compile(r'import \{([\w ,]+)\} from "\./([\w-]+\.js)";')
_EXPORT = re.compile(r"export (?=(?:async )?function\b|var |let |const |class )")
_DECLARATION = re.compile(r"(?:export )?(?:(?:async )?function\*? *|var |let |const |class )(\w+)")


def classic_script(directory: Path, entry: str = "main.js") -> str:
    """ES modules as one classic script, for a page opened from disk (file://), where modules
    cannot load each other.

    Each module comes once, after the modules it imports: the order a browser runs them in
    (depth first, imports in their order, a module already under way skipped, so cycles
    work). Import lines go, `export ` comes off declarations, and all run in one strict
    function. What this cannot join faithfully is refused with a ValueError: another form of
    import or export (`as`, `default`, several lines), an imported name its module does not
    export, or one top-level name in two modules (they share the function's scope).
    """
    done: set[str] = set()
    joined: list[tuple[str, list[str]]] = []
    exported: dict[str, set[str]] = {}
    wanted: list[tuple[str, str, str]] = []  # (importer, name, module)

    def visit(module: str) -> None:
        done.add(module)
        body = []
        for line in (directory / module).read_text(encoding="utf-8").splitlines():
            imported = _IMPORT.fullmatch(line)
            if imported:
                names = [name.strip() for name in imported.group(1).split(",")]
                if not all(re.fullmatch(r"\w+", name) for name in names):
                    raise ValueError(f"{module}: import names only, no 'as': {line!r}")
                wanted.extend((module, name, imported.group(2)) for name in names)
                if imported.group(2) not in done:
                    visit(imported.group(2))
            elif re.match(r"(import|export)\b", line) and not _EXPORT.match(line):
                raise ValueError(f"{module}: a form of import or export not joined: {line!r}")
            else:
                if line.startswith("export "):
                    exported.setdefault(module, set()).add(_DECLARATION.match(line).group(1))
                body.append(_EXPORT.sub("", line, count=1))
        joined.append((module, body))

    visit(entry)
    for importer, name, module in wanted:
        if name not in exported.get(module, set()):
            raise ValueError(f"{importer}: {module} exports no {name}")
    owners: dict[str, str] = {}
    for module, body in joined:
        for line in body:
            declared = _DECLARATION.match(line)
            if declared and owners.setdefault(declared.group(1), module) != module:
                raise ValueError(
                    f"{declared.group(1)} is declared in {owners[declared.group(1)]} and {module}"
                )
    parts = [f"/* {directory.name}/{module} */\n" + "\n".join(body) for module, body in joined]
    return '(function () {\n"use strict";\n\n' + "\n".join(parts) + "\n})();\n"


# Old Internet Explorer's VML `behavior` declaration in Leaflet's CSS: no browser since IE 9
# reads it, and it is not CSS (the Nu checker reports it as an error in the inlined copy).
_OLD_IE = re.compile(r"[ \t]*behavior:[^;}]*;[ \t]*\n?")


def _vendor_file(name: str, filename: str) -> str:
    return (Path(VENDOR[name].BASE_DIR) / filename).read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _script_text(source: str) -> str:
    """JavaScript to put inside <script>: it must not end the element early."""
    return source.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _json_text(document: bytes) -> str:
    """A JSON document, compact and in plain UTF-8, to put inside <script type="application/json">.

    "<" appears only inside strings, where \\u003c stands for it: nothing can end the element.
    """
    value = json.loads(document)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _fixed_ids(fmap: folium.Map, shell: mapshell.MapParts) -> mapshell.MapParts:
    """The parts with folium's random element ids (map_<32 hex digits>...) numbered instead.

    The same rallies then make the same bytes, whichever process renders them: a signature
    made by one gunicorn worker verifies the file another one served.
    """
    ids, todo = [], [fmap.get_root()]
    while todo:
        element = todo.pop(0)
        ids.append(element._id)  # noqa: SLF001 - branca keeps the id there
        todo.extend(element._children.values())  # noqa: SLF001
    numbered = {old: f"{number:04d}" for number, old in enumerate(ids)}
    pattern = re.compile("|".join(ids))

    def fix(text: str) -> str:
        return pattern.sub(lambda m: numbered[m.group(0)], text)

    return replace(
        shell, header=fix(shell.header), html=fix(shell.html), scripts=fix(shell.scripts),
        script=fix(shell.script), script_hashes=(),
    )  # fmt: skip


# An offline copy warns that it may be out of date after a day; after an hour when a rally in it
# starts within two days (a cancellation or a danger warning matters most then).
STALE_SECONDS = 24 * 3600
STALE_SOON_SECONDS = 3600
SOON = timedelta(days=2)


def scope_lines(rally_filter: RallyFilter, lang: str) -> list[str]:
    """What part of the map a copy shows, in words: a copy of one town, or of an empty date
    range, says so where people read it (and in the bytes that are signed)."""

    def day(value: date) -> str:
        return format_date(value, "long", locale=lang)

    lines = []
    if rally_filter.featured:
        lines.append(_("Only the main rally."))
    if rally_filter.region:
        region = REGION_NAMES.get(rally_filter.region, {}).get(lang, rally_filter.region)
        lines.append(_("Only rallies in %(region)s.", region=region))
    if rally_filter.city:
        lines.append(_("Only rallies in %(town)s.", town=rally_filter.city))
    if rally_filter.date_from:
        lines.append(_("Only rallies from %(date)s.", date=day(rally_filter.date_from)))
    if rally_filter.date_to:
        lines.append(_("Only rallies until %(date)s.", date=day(rally_filter.date_to)))
    if rally_filter.when == "past":
        lines.append(_("Only past rallies."))
    elif rally_filter.when == "all":
        lines.append(_("Past and upcoming rallies."))
    elif not lines:
        lines.append(_("Every upcoming rally in Belarus."))
    else:
        lines.append(_("Only upcoming rallies."))
    return lines


def render_export(
    rally_filter: RallyFilter,
    lang: str,
    base_url: str | None,
    tiles: bool | None = None,
    made_at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """The whole page; call inside a request context in the wanted language.

    The rallies are in it twice: as plain HTML (a list that reads where scripts do not run,
    in file previews and messengers' viewers) and as data for the map, which replaces the
    list when scripts run. With `tiles` False the page asks no server for anything.
    `made_at` (default: now) is the time the page says it was made; the rallies are those
    public at `now` (default: made_at).
    """
    from flask import current_app

    made_at = made_at or now or utcnow()
    now = now or made_at
    if tiles is None:  # the operator's choice: no tile server unless opted in
        tiles = bool(current_app.config["EXPORT_TILES"])
    images = Path(VENDOR["leaflet"].BASE_DIR) / "images"
    leaflet_css = _CSS_IMAGE.sub(
        lambda m: f"url({_data_uri(images / m.group(1))})",
        _OLD_IE.sub("", _vendor_file("leaflet", "leaflet.css")),
    )
    rallies = public_rallies(db.session(), rally_filter, now)
    fmap = mapshell.rally_map(
        tile_url=current_app.config["TILE_URL"] if tiles else None,
        tile_attribution=tile_attribution(current_app.config["TILE_ATTRIBUTION"]),
        # Placeholders: the files themselves are written into the page below.
        assets=dict.fromkeys(
            (
                "leaflet_js",
                "leaflet_css",
                "supercluster_js",
                "basemap_js",
                "rallymap_js",
            ),
            "#",
        ),  # fmt: skip
        config={
            "mode": "browse",
            # config.data and config.basemap are read from the page's JSON blocks (see
            # export.html): JSON.parse of raw UTF-8 is cheaper to load than a JS literal.
            "rallyUrl": f"{base_url.rstrip('/')}/rallies/" if base_url else None,
            "lang": lang,
            "labels": map_labels(),
            "icons": {
                "iconUrl": _data_uri(images / "marker-icon.png"),
                "iconRetinaUrl": _data_uri(images / "marker-icon-2x.png"),
                "shadowUrl": _data_uri(images / "marker-shadow.png"),
            },
        },
    )
    shell = _fixed_ids(fmap, mapshell.map_parts(fmap))
    styles = "\n".join(
        [
            leaflet_css,
            (STATIC_DIR / "app.css").read_text(encoding="utf-8"),
        ]
    )
    scripts = [
        _vendor_file("leaflet", "leaflet.js"),
        (STATIC_DIR / SUPERCLUSTER).read_text(encoding="utf-8"),
        (STATIC_DIR / "basemap.js").read_text(encoding="utf-8"),
        # The map's modules cannot import each other from file://: one classic script.
        classic_script(STATIC_DIR / MODULES),
    ]
    folium_styles = re.sub(r"<link\b[^>]*>", "", shell.header)
    return render_template(
        "export.html",
        styles=styles,
        folium_styles=folium_styles,
        map_html=shell.html,
        scripts=[_script_text(s) for s in scripts],
        map_script=_script_text(shell.script),
        rallies=[localised(r, lang) for r in rallies],  # the seed's texts in the language
        rallies_json=_json_text(feature_collection(rallies, in_language(lang))),
        basemap_json=_json_text((DATA_DIR / BASEMAP).read_bytes()),
        base_url=base_url.rstrip("/") if base_url else None,
        made_at=made_at,
        scope=scope_lines(rally_filter, lang),
        stale_seconds=(
            STALE_SOON_SECONDS
            if any(made_at <= r.starts_at < made_at + SOON for r in rallies)
            else STALE_SECONDS
        ),
        public_key=signing_key(current_app),
        inline_scripts=re.findall(r"<script>(.*?)</script>", shell.scripts, re.S),
    )


@dataclass(frozen=True)
class Export:
    """The files export-static wrote, and whether they are signed."""

    directory: Path
    files: tuple[str, ...]
    signed: bool


EXPORT_FILES = ("index.html", "rallies.geojson", "rallies.ics")


def export_files(
    rally_filter: RallyFilter,
    lang: str,
    base_url: str | None,
    tiles: bool | None = None,
    now: datetime | None = None,
) -> dict[str, bytes]:
    """index.html, rallies.geojson and rallies.ics for one filter and language, made `now`.

    Call inside a request context in `lang`.
    """
    now = now or utcnow()
    rallies = public_rallies(db.session(), rally_filter, now)
    site = base_url.rstrip("/") if base_url else None

    def rally_url(rally_id: int) -> str | None:
        return f"{site}/rallies/{rally_id}?lang={lang}" if site else None

    return {
        "index.html": render_export(rally_filter, lang, base_url, tiles, now).encode(),
        "rallies.geojson": feature_collection(rallies, in_language(lang)),
        # With the same sentences as the site's feed: the headline, "will be announced at".
        "rallies.ics": calendar(rallies, rally_url, feed_notes(lang)),
    }


def export_static(
    app: Flask,
    out_dir: Path,
    lang: str,
    base_url: str | None,
    rally_filter: RallyFilter,
    tiles: bool | None = None,
) -> Export:
    """Write the export into out_dir; with MAPAPP_SIGNING_KEY, NAME.minisig and signing.pub too."""
    made_at = utcnow()
    with app.test_request_context(f"/?lang={lang}"):
        files = export_files(rally_filter, lang, base_url, tiles, made_at)
    key = signing_key(app)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in files.items():
        (out_dir / name).write_bytes(body)
        written.append(name)
        if key is not None:
            comment = signed_comment(name, selection=rally_filter.args(), made_at=made_at)
            (out_dir / f"{name}.minisig").write_text(key.sign(body, comment))
            written.append(f"{name}.minisig")
    if key is not None:
        (out_dir / "signing.pub").write_text(key.public_key_file())
        written.append("signing.pub")
    return Export(directory=out_dir, files=tuple(written), signed=key is not None)
