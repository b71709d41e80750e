"""Pure functions: settings and asset URLs in, a folium map (or its page parts) out.

Knows nothing of Flask. User text never passes through here: folium draws the
shell (map, tiles, controls) and the map's ES modules (mapapp/static/map/, entry
main.js) fetch the rallies as GeoJSON and build markers and popups with textContent.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template

# Belarus, south-west and north-east corners (WGS84).
BELARUS_BOUNDS = ((51.26, 23.18), (56.17, 32.78))
BELARUS_CENTRE = (53.71, 27.95)
# The zoom levels the tiles are drawn for: the whole country to a single street.
MIN_ZOOM, MAX_ZOOM = 5, 19

# folium's header carries a viewport that forbids zooming (fails WCAG 1.4.4) and a
# second charset declaration; our page template sets both itself.
_FOLIUM_METAS = re.compile(r"<meta (?:name=\"viewport\"|http-equiv=\"content-type\")[^>]*/>", re.S)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_SCRIPT_ELEMENT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)
# Scripts that are ES modules (by their name in default_js): the map's own, static/map/ (its
# modules joined into one, mapapp/web/assets.py BUNDLE).
MODULE_SCRIPTS = ("rallymap",)


class RallyLayer(MacroElement):
    """Hands the folium map to the map's modules (static/map/main.js), which load and draw
    the rallies.

    Pages run folium's script as a module too, so that it runs after main.js has defined
    RallyMap (a module is deferred: a classic script would run first). A module's names are
    its own: the map is made a global, as a classic script's would be.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            window.{{ this._parent.get_name() }} = {{ this._parent.get_name() }};
            RallyMap.init({{ this._parent.get_name() }}, {{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self._name = "RallyLayer"
        self.config = config


def rally_map(
    *,
    tile_url: str | None,
    tile_attribution: str,
    assets: dict[str, str],
    config: dict[str, Any],
    gestures: dict[str, str] | None = None,
) -> folium.Map:
    """The map of rallies: self-hosted Leaflet and supercluster, one tile layer.

    With `gestures` (the texts "touch", "scroll" and "scrollMac"), the map leaves page
    scrolling alone: one finger or a plain wheel scrolls the page and shows the text;
    two fingers or ctrl + wheel move the map (Leaflet.GestureHandling). For a map inside
    someone else's page, which must not trap a visitor scrolling past it.
    """
    # Leaflet reads gestureHandling when the map is created: it must be an L.map option.
    options: dict[str, Any] = (
        {"gesture_handling": True, "gesture_handling_options": {"text": gestures, "duration": 1000}}
        if gestures
        else {}
    )
    fmap = folium.Map(
        location=BELARUS_CENTRE,
        zoom_start=6,
        tiles=None,
        control_scale=False,  # the map's script adds a metric one (view.js)
        prefer_canvas=False,
        zoom_control=False,  # the map's script adds it, with titles in the page's language
        **options,
    )
    # Leaflet takes the zoom range from the tile layer; the clusters need one without tiles.
    fmap.options.update(max_zoom=MAX_ZOOM, min_zoom=MIN_ZOOM)
    # No first view: the map's script sets the one it shows (static/map/view.js initialView,
    # pin.js, single.js; main.js init otherwise) before the tile layer lays out any
    # tiles. With folium's view (Belarus at zoom 6) the tile layer made that view's tiles and
    # threw them away at once for the real view: about 0.1 s of a phone's CPU at every load.
    fmap.location = None
    fmap.options.pop("zoom", None)
    # Instance attributes: the class lists point at five CDNs (and folium's
    # add_js_link would change them for every map in the process).
    fmap.default_js = [
        ("leaflet", assets["leaflet_js"]),
        ("supercluster", assets["supercluster_js"]),
        *([("gesturehandling", assets["gesturehandling_js"])] if gestures else []),
        # The app's own basemap (outline, regions, towns), when the page has it.
        *([("basemap", assets["basemap_js"])] if "basemap_js" in assets else []),
        ("rallymap", assets["rallymap_js"]),
    ]
    fmap.default_css = [
        ("leaflet_css", assets["leaflet_css"]),
        *([("gesturehandling_css", assets["gesturehandling_css"])] if gestures else []),
    ]
    if tile_url:  # None: no tiles at all, only the app's own basemap (basemap.js)
        folium.TileLayer(
            tiles=tile_url,
            attr=tile_attribution,
            max_zoom=MAX_ZOOM,
            min_zoom=MIN_ZOOM,
            name="tiles",
        ).add_to(fmap)
    # centre: the view of a map that sets none of its own (main.js init).
    RallyLayer({"bounds": BELARUS_BOUNDS, "centre": BELARUS_CENTRE, **config}).add_to(fmap)
    return fmap


@dataclass(frozen=True)
class MapParts:
    """What a page template needs to place a folium map inside its own layout."""

    header: str  # <link> and <style> for <head>
    html: str  # the map's <div>
    scripts: str  # <script> elements (Leaflet, the plugins, the map's module) after the div
    script: str  # JavaScript for a <script type="module"> element after those
    script_hashes: tuple[str, ...]  # CSP 'sha256-...' sources for every inline script


def csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def map_parts(fmap: folium.Map, preload: Sequence[str] = ()) -> MapParts:
    """A rendered folium map cut into the parts a page template places (MapParts).

    `preload` are URLs of ES modules (the map's script): each gets a
    `<link rel="modulepreload">` in the header, so a browser asks for it before it has read
    the body (or, for modules that import each other, all at once instead of one import level
    after another).
    """
    root = fmap.get_root()
    root.render()  # adds the JS/CSS links to the header
    header = _FOLIUM_METAS.sub("", root.header.render())
    # folium writes every script as a classic one.
    for name, url in fmap.default_js:
        if name in MODULE_SCRIPTS:
            header = header.replace(f'<script src="{url}">', f'<script type="module" src="{url}">')
    # Scripts go to the end of the body, so the page's text shows before Leaflet has loaded.
    scripts = "\n".join(_SCRIPT_ELEMENT.findall(header))
    header = _SCRIPT_ELEMENT.sub("", header) + "".join(
        f'<link rel="modulepreload" href="{html.escape(url)}">' for url in preload
    )
    script = root.script.render()
    inline = [*_INLINE_SCRIPT.findall(scripts), script]
    return MapParts(
        header=header,
        html=root.html.render(),
        scripts=scripts,
        script=script,
        script_hashes=tuple(csp_hash(s) for s in inline),
    )
