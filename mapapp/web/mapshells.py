"""The folium map shells the pages use, rendered once per kind and language."""

from __future__ import annotations

import json

from flask import current_app, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from mapapp.domain.filters import VIEW_LAT, VIEW_LON, RallyFilter
from mapapp.domain.geocoding import gazetteer
from mapapp.places import mapshell
from mapapp.publishing.labels import map_labels, tile_attribution
from mapapp.web.assets import basemap_url, map_assets, module_urls
from mapapp.web.i18n import current_language
from mapapp.web.tiles import browser_tile_url


def gesture_labels() -> dict[str, str]:
    """What an embedded map says when a visitor scrolls or swipes over it (see mapshell.rally_map)."""
    return {
        "touch": _("Use two fingers to move the map"),
        "scroll": _("Use ctrl + scroll to zoom the map"),
        # Translators: ⌘ is the Command key of Mac keyboards.
        "scrollMac": _("Use ⌘ + scroll to zoom the map"),
    }


def map_shell(
    mode: str = "browse",
    data_endpoint: str = "api.rallies_geojson",
    rally_endpoint: str = "pages.rally",
    credentials: bool = False,
) -> mapshell.MapParts:
    """The folium page parts for one kind of map in the current language.

    mode "browse" draws the rallies from data_endpoint; "embed" does too, inside another
    site's page: it leaves page scrolling alone and opens links in a new tab; "pin" shows
    one draggable pin whose place the page's form keeps; "single" one rally's marker.
    Maps of rallies re-read their data every REFRESH_SECONDS. With `credentials` the data
    is fetched with the visitor's cookie (the moderators' map); public maps send none.
    """
    shells = current_app.extensions.setdefault("mapapp.map_shells", {})
    # The URLs inside carry the path prefix: a mirror at /mirror/ gets its own shell.
    key = (
        mode,
        data_endpoint,
        rally_endpoint,
        credentials,
        request.script_root,
        current_language(),
    )
    if key not in shells:
        fmap = mapshell.rally_map(
            tile_url=browser_tile_url(current_app),
            tile_attribution=tile_attribution(current_app.config["TILE_ATTRIBUTION"]),
            assets=map_assets(),
            config={
                "mode": mode,
                # lang=None: the map's script (static/map/feed.js) adds the page's own ?lang=
                # (and filters). Public maps read the compact feed (mapapp.publishing.mapfeed) and load
                # texts per rally.
                "dataUrl": url_for(
                    data_endpoint,
                    lang=None,
                    **({"fields": "map"} if data_endpoint == "api.rallies_geojson" else {}),
                ),
                "credentials": "same-origin" if credentials else "omit",
                "apiRallyUrl": url_for("api.rally_json", rally_id=0).removesuffix("0"),
                "refreshSeconds": current_app.config["REFRESH_SECONDS"],
                # The views the server takes back in ?lat=&lon= (south-west, north-east).
                "viewBounds": ((VIEW_LAT[0], VIEW_LON[0]), (VIEW_LAT[1], VIEW_LON[1])),
                "reverseUrl": url_for("api.reverse"),
                "basemapUrl": basemap_url(),
                # lang=None: without it, a ?lang= in this request would follow into the URL.
                "rallyUrl": url_for(rally_endpoint, rally_id=0, lang=None).removesuffix("0"),
                "listUrl": url_for("pages.rallies", lang=None),
                "lang": current_language(),
                "labels": map_labels(),
            },
            gestures=gesture_labels() if mode == "embed" else None,
        )
        shells[key] = mapshell.map_parts(fmap, preload=module_urls())
    return shells[key]


def pin_shell() -> mapshell.MapParts:
    return map_shell("pin")


# Run in the page's <head>: the map's feed is asked for before Leaflet and the map's scripts
# have come and run, not after. On a phone's slow link that is their download time and a
# round trip sooner. The map's script (static/map/main.js, a module: it runs after the page
# is parsed) takes this answer as its first, and this URL for its checks. The catch() only
# marks a failure (offline at load) as handled until the map's script takes the promise and
# says so on the page: no "Uncaught (in promise)" meanwhile.
EARLY_FEED = (
    '(function (s) { var u = s.getAttribute("data-feed"); '
    'var p = fetch(u, { credentials: "omit", cache: "no-store" }); p.catch(function () {}); '
    "window.rallyFeed = { url: u, promise: p }; })(document.currentScript);"
)
EARLY_FEED_HASH = mapshell.csp_hash(EARLY_FEED)


def early_feed(rally_filter: RallyFilter) -> Markup:
    """The <script> element asking for the public map's feed (its compact form, this page's
    filter and language) from the page's head. Made when the page is rendered (once per
    variant); every response of the page names EARLY_FEED_HASH in its CSP."""
    url = url_for(
        "api.rallies_geojson", fields="map", **rally_filter.args(), lang=current_language()
    )
    script = Markup(EARLY_FEED)  # noqa: S704 - our own constant
    return Markup('<script data-feed="{}">{}</script>').format(url, script)


# Around a town's point when the filtered town has no rallies: about 9 km each way.
TOWN_REACH = 0.08


def _points(geometry: dict) -> list[list[float]]:
    coordinates = geometry["coordinates"]
    rings = coordinates if geometry["type"] == "Polygon" else [r for p in coordinates for r in p]
    return [point for ring in rings for point in ring]


def filter_focus(rally_filter: RallyFilter) -> str | None:
    """Where a map filtered to a town or a region looks once its rallies are loaded
    (static/map/view.js fitToFilter): the box of that town's point (TOWN_REACH around it) or
    of the region's outline, as JSON `[[south, west], [north, east]]`; None without such a
    filter. The map fits its rallies when there are some, this box when there are none."""
    places = gazetteer()
    if rally_filter.city_id is not None:
        town = places.by_id(rally_filter.city_id)
        if town is not None:
            south, west = town.lat - TOWN_REACH, town.lon - TOWN_REACH * 1.7
            north, east = town.lat + TOWN_REACH, town.lon + TOWN_REACH * 1.7
            return json.dumps(
                [[round(south, 4), round(west, 4)], [round(north, 4), round(east, 4)]]
            )
    if rally_filter.region and rally_filter.region in places.boundaries:
        points = _points(places.boundaries[rally_filter.region])
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return json.dumps([[min(lats), min(lons)], [max(lats), max(lons)]])
    return None
