"""Where the app's own files are, installed or in a checkout.

A checkout keeps `data/` and `templates/` at the top level (the product's layout); a wheel
carries them inside the package (`setup.py` copies them there at build time). Pure: no Flask.
"""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_gesturehandling

PACKAGE_DIR = Path(__file__).resolve().parent
# A source checkout (also an editable install) has pyproject.toml beside the package.
CHECKOUT_DIR: Path | None = (
    PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
)


def bundled(name: str) -> Path:
    """The directory `name` (data, templates): inside the package in a wheel, else beside it.

    Raises FileNotFoundError naming both places when neither has it: the app cannot work
    without its data and templates, so it says so at start rather than on the first request.
    """
    inside = PACKAGE_DIR / name
    if inside.is_dir():
        return inside
    beside = PACKAGE_DIR.parent / name
    if beside.is_dir():
        return beside
    raise FileNotFoundError(
        f"mapapp: no {name}/ directory in {inside} or {beside}; "
        "install from a wheel built by `pip install .` or run from a checkout"
    )


DATA_DIR = bundled("data")
TEMPLATES_DIR = bundled("templates")

# The map's static files: the app's own in static/, Leaflet and Leaflet.GestureHandling from
# their xstatic packages on PyPI.
VENDOR = {
    "leaflet": xstatic.pkg.leaflet,
    "gesturehandling": xstatic.pkg.leaflet_gesturehandling,
}
STATIC_DIR = PACKAGE_DIR / "static"
# The map's own basemap (outline, regions, town names), built by scripts/build_basemap.py.
BASEMAP = "basemap.json"
# mapbox/supercluster 9.1.0 from npm (its dist/supercluster.min.js, ISC licence in the file).
SUPERCLUSTER = "vendor/supercluster/supercluster.min.js"
# The map's ES modules (main.js their entry), each served at /static/map/<hash>/<name>.
MODULES = "map"
