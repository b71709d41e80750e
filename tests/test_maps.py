"""The pure map functions: no Flask, no CDN, CSP hashes that match the scripts."""

from mapapp.places.mapshell import csp_hash, map_parts, rally_map

ASSETS = {
    "leaflet_js": "/v/leaflet.js",
    "leaflet_css": "/v/leaflet.css",
    "supercluster_js": "/s/supercluster.js",
    "rallymap_js": "/s/rallymap.js",
}


def build(**config):
    return map_parts(
        rally_map(
            tile_url="https://tiles.example.org/{z}/{x}/{y}.png",
            tile_attribution="&copy; test",
            assets=ASSETS,
            config={"dataUrl": "/api/rallies.geojson", **config},
        )
    )


def test_only_given_assets_are_linked():
    parts = build()
    for url in ASSETS.values():
        assert url in parts.header + parts.scripts
    assert "<script" not in parts.header  # scripts wait for the end of the body
    for cdn in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com", "bootstrapcdn"):
        assert cdn not in parts.header + parts.html + parts.script


def test_zoom_is_not_forbidden():
    # folium's own viewport has user-scalable=no; the page supplies its own.
    assert "user-scalable" not in build().header


def test_script_hands_map_and_config_to_rallymap():
    parts = build(lang="en")
    assert "RallyMap.init(map_" in parts.script
    assert '"dataUrl": "/api/rallies.geojson"' in parts.script
    assert "tiles.example.org" in parts.script


def test_csp_hashes_cover_every_inline_script():
    parts = build()
    assert csp_hash(parts.script) in parts.script_hashes
    assert len(parts.script_hashes) == parts.scripts.count("<script>") + 1


def test_config_text_cannot_close_the_script():
    parts = build(labels={"x": "</script><script>alert(1)</script>"})
    assert "</script>" not in parts.script


def test_gesture_handling_only_when_asked_for():
    assert "gestureHandling" not in build().script
    assert "gesture" not in build().header
    texts = {"touch": "two fingers", "scroll": "ctrl + scroll", "scrollMac": "cmd + scroll"}
    parts = map_parts(
        rally_map(
            tile_url="https://tiles.example.org/{z}/{x}/{y}.png",
            tile_attribution="&copy; test",
            assets={**ASSETS, "gesturehandling_js": "/v/gh.js", "gesturehandling_css": "/v/gh.css"},
            config={"dataUrl": "/api/rallies.geojson"},
            gestures=texts,
        )
    )
    # an option of L.map itself: the plugin reads it when the map is created
    assert '"gestureHandling": true' in parts.script
    assert '"scrollMac": "cmd + scroll"' in parts.script
    assert parts.script.index("gestureHandling") < parts.script.index("L.tileLayer")
    # the plugin loads after Leaflet and before the map's script
    assert parts.scripts.index("/v/leaflet.js") < parts.scripts.index("/v/gh.js")
    assert parts.scripts.index("/v/gh.js") < parts.scripts.index("/s/rallymap.js")
    assert "/v/gh.css" in parts.header


def test_the_maps_own_script_is_a_module_and_the_others_classic():
    parts = build()
    assert '<script type="module" src="/s/rallymap.js"></script>' in parts.scripts
    assert '<script src="/v/leaflet.js"></script>' in parts.scripts
    assert '<script src="/s/supercluster.js"></script>' in parts.scripts
    # folium's script hands the map over; pages run it as a module, so it stays a global
    assert "window.map_" in parts.script
