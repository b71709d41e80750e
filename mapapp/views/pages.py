"""Pages for people: the map, the list of rallies, a rally's page."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from mapapp import db, maps
from mapapp.assets import map_assets
from mapapp.filters import parse_filter
from mapapp.geocode import gazetteer
from mapapp.i18n import MINSK, current_language
from mapapp.rallies import public_rallies, public_rally

bp = Blueprint("pages", __name__)


def map_labels() -> dict[str, str]:
    """The map's own interface text, in the page's language."""
    return {
        "details": _("Rally page"),
        "cancelled": _("Cancelled"),
        "featured": _("Main rally"),
        "loading": _("Loading rallies…"),
        # Translators: {count} becomes a number in the browser. "Rallies on the map: 5" needs
        # no plural forms, which Belarusian and Russian would otherwise need three of.
        "loaded": _("Rallies on the map: %(count)s", count="{count}"),
        "none": _("No rallies match these filters."),
        "failed": _("The map could not load the rallies. The list of rallies works without it."),
        "show": _("Show on the map"),
        # Translators: {count} becomes a number in the browser.
        "cluster": _("Rallies here: %(count)s. Zoom in to see them.", count="{count}"),
        "closePopup": _("Close popup"),
        "zoomIn": _("Zoom in"),
        "zoomOut": _("Zoom out"),
        # Translators: the title of the "Leaflet" link in the map's corner.
        "leaflet": _("A JavaScript library for interactive maps"),
    }


def map_shell() -> maps.MapParts:
    """The folium page parts for the current language, rendered once per process."""
    shells = current_app.extensions.setdefault("mapapp.map_shells", {})
    lang = current_language()
    if lang not in shells:
        fmap = maps.rally_map(
            tile_url=current_app.config["TILE_URL"],
            tile_attribution=current_app.config["TILE_ATTRIBUTION"],
            assets=map_assets(),
            config={
                "dataUrl": url_for("api.rallies_geojson"),
                # lang=None: without it, a ?lang= in this request would follow into the URL.
                "rallyUrl": url_for("pages.rally", rally_id=0, lang=None).removesuffix("0"),
                "lang": lang,
                "labels": map_labels(),
            },
        )
        shells[lang] = maps.map_parts(fmap)
    return shells[lang]


@bp.get("/")
def index() -> str:
    parse_filter(request.args, gazetteer())  # a bad filter is a 400 here, not a silently empty map
    shell = map_shell()
    g.csp_script_hashes = shell.script_hashes
    return render_template("map.html", shell=shell)


@bp.get("/rallies")
def rallies() -> str:
    rally_filter = parse_filter(request.args, gazetteer())
    found = public_rallies(db.session(), rally_filter)
    # Upcoming: the main rally first, whatever its date; then day by day.
    featured = [r for r in found if r.featured] if rally_filter.when == "upcoming" else []
    rest = [r for r in found if r not in featured]
    by_day = [
        (format_date(day, "full"), list(items))
        for day, items in groupby(rest, key=lambda r: r.starts_at.astimezone(MINSK).date())
    ]
    return render_template(
        "rallies.html", rally_filter=rally_filter, rallies=found, featured=featured, by_day=by_day
    )


@bp.get("/rallies/<int:rally_id>")
def rally(rally_id: int) -> str:
    found = public_rally(db.session(), rally_id)
    if found is None:
        abort(404)
    return render_template("rally.html", rally=found)
