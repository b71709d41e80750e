"""export-static: the map as one HTML file that works opened from disk.

Leaflet, markercluster, the styles, rallymap.js and the rallies themselves are written
into the file, so it needs no server: it can be passed around on a USB stick or in a
messenger when the site is blocked. Only tiles come from MAPAPP_TILE_URL, when online.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from flask import Flask, render_template

from mapapp import db, maps
from mapapp.assets import STATIC_DIR, VENDOR
from mapapp.filters import RallyFilter
from mapapp.public import public_rallies
from mapapp.rallies import feature_collection, in_language
from mapapp.views.maps import map_labels

_CSS_IMAGE = re.compile(r"url\(images/([\w.-]+\.png)\)")


def _vendor_file(name: str, filename: str) -> str:
    return (Path(VENDOR[name].BASE_DIR) / filename).read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _script_text(source: str) -> str:
    """JavaScript to put inside <script>: it must not end the element early."""
    return source.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def render_export(rally_filter: RallyFilter, lang: str, base_url: str | None) -> str:
    """The whole page; call inside a request context in the wanted language."""
    from flask import current_app

    images = Path(VENDOR["leaflet"].BASE_DIR) / "images"
    leaflet_css = _CSS_IMAGE.sub(
        lambda m: f"url({_data_uri(images / m.group(1))})", _vendor_file("leaflet", "leaflet.css")
    )
    rallies = public_rallies(db.session(), rally_filter)
    data = json.loads(feature_collection(rallies, in_language(lang)))
    fmap = maps.rally_map(
        tile_url=current_app.config["TILE_URL"],
        tile_attribution=current_app.config["TILE_ATTRIBUTION"],
        # Placeholders: the files themselves are written into the page below.
        assets=dict.fromkeys(
            (
                "leaflet_js",
                "leaflet_css",
                "markercluster_js",
                "markercluster_css",
                "markercluster_default_css",
                "rallymap_js",
            ),
            "#",
        ),  # fmt: skip
        config={
            "mode": "browse",
            "data": data,
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
    shell = maps.map_parts(fmap)
    styles = "\n".join(
        [
            leaflet_css,
            _vendor_file("markercluster", "MarkerCluster.css"),
            _vendor_file("markercluster", "MarkerCluster.Default.css"),
            (STATIC_DIR / "app.css").read_text(encoding="utf-8"),
        ]
    )
    scripts = [
        _vendor_file("leaflet", "leaflet.js"),
        _vendor_file("markercluster", "leaflet.markercluster.js"),
        (STATIC_DIR / "rallymap.js").read_text(encoding="utf-8"),
    ]
    folium_styles = re.sub(r"<link\b[^>]*>", "", shell.header)
    return render_template(
        "export.html",
        styles=styles,
        folium_styles=folium_styles,
        map_html=shell.html,
        scripts=[_script_text(s) for s in scripts],
        map_script=_script_text(shell.script),
        count=len(rallies),
        base_url=base_url,
        inline_scripts=re.findall(r"<script>(.*?)</script>", shell.scripts, re.S),
    )


def export_static(app: Flask, out_dir: Path, lang: str, base_url: str | None, rally_filter) -> Path:  # noqa: ANN001
    with app.test_request_context(f"/?lang={lang}"):
        page = render_export(rally_filter, lang, base_url)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
