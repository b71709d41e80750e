"""Real uMap, run locally, with one map of the bench's demo rallies: the baseline of
`bench/browser.py --umap-url URL`.

Idempotent; each step is skipped when already done:

1. a virtualenv of its own (never the project's) with umap-project (UMAP_VERSION, from PyPI),
   gunicorn, whitenoise and psycopg;
2. PostGIS from Debian (`apt-get install postgresql-15-postgis-3`, as root) and a database of
   its own on the local PostgreSQL (default `umap_bench` at 127.0.0.1:5432, user postgres,
   trust auth) with `CREATE EXTENSION postgis`;
3. uMap's documented settings file (UMAP_SETTINGS: SECRET_KEY, DATABASES, SITE_URL, STATIC_ROOT,
   MEDIA_ROOT, UMAP_XSENDFILE_HEADER), `umap collectstatic`, `umap migrate`;
4. the rallies: a GeoJSON file (--geojson), or the bench's demo rallies made as
   `bench/browser.py` makes them (`demo_rallies(gazetteer(), N, seed=1)`, served by the app as
   `/api/rallies.geojson?when=all&lang=en`, the uMap-like page's feed) when run with the
   project's Python;
5. one public map (slug `rallies-bench`; kept while the GeoJSON and this loader are the same,
   else replaced, with a new id in its URL) with one datalayer of all of them
   of uMap's "Clustered" type, made through uMap's Django models in `umap shell`; its only tile
   layer is `/no-tiles/{z}/{x}/{y}.png` on uMap's own server, which answers none (as the bench
   answers neither the map's nor the uMap-like page's tiles). Nothing asks another host.

It prints the map's URL. With --serve it then serves uMap with gunicorn on 127.0.0.1:PORT
(static files and uploads by whitenoise, as a front server would) until stopped.

    .venv/bin/python bench/umap_real.py [--count 10000 | --geojson FILE] [--home DIR]
        [--venv DIR] [--database NAME] [--port 8019] [--serve]
    .venv/bin/python bench/browser.py --only-umap --counts 10000 --umap-url <the URL printed>

Not part of `make test`: it installs uMap (not committed here) and needs root for apt-get.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

UMAP_VERSION = "3.7.3"
PACKAGES = [f"umap-project=={UMAP_VERSION}", "gunicorn", "whitenoise", "psycopg[binary]"]
POSTGIS = "postgresql-15-postgis-3"
SLUG = "rallies-bench"
TILES = "/no-tiles/{z}/{x}/{y}.png"

SETTINGS = """# uMap's settings for the bench (bench/umap_real.py); read through UMAP_SETTINGS.
SECRET_KEY = {secret!r}
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_URL = {site!r}
DATABASES = {{
    "default": {{
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": {database!r},
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
    }}
}}
STATIC_ROOT = {static!r}
MEDIA_ROOT = {media!r}
LANGUAGE_CODE = "en"
LEAFLET_LONGITUDE = 27.9
LEAFLET_LATITUDE = 53.7
LEAFLET_ZOOM = 7
UMAP_ALLOW_ANONYMOUS = False
REALTIME_ENABLED = False
UMAP_XSENDFILE_HEADER = "X-Accel-Redirect"
"""

# uMap as its documented deployment serves it (nginx in front): static files and uploads from
# the front (here whitenoise), and the datalayers through X-Accel-Redirect to /internal/, whose
# location has `gzip_static on` (the .gz uMap writes beside each datalayer's file).
WSGI = """import os
from pathlib import Path

from whitenoise import WhiteNoise
from umap.wsgi import application as umap

MEDIA = Path(os.environ["UMAP_BENCH_MEDIA"])


def internal(environ, start_response):
    answer = {}

    def start(status, headers, exc_info=None):
        answer.update(status=status, headers=headers)

    body = umap(environ, start)
    headers = answer["headers"]
    redirect = next((v for k, v in headers if k.lower() == "x-accel-redirect"), None)
    if not redirect:
        start_response(answer["status"], headers)
        return body
    getattr(body, "close", lambda: None)()
    path = MEDIA / redirect.removeprefix("/internal/")
    kept = [(k, v) for k, v in headers if k.lower() not in
            ("x-accel-redirect", "content-length", "content-type", "content-encoding")]
    kept += [("Content-Type", "application/octet-stream"), ("Vary", "Accept-Encoding")]
    gzipped = Path(f"{path}.gz")
    if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "") and gzipped.exists():
        path = gzipped
        kept.append(("Content-Encoding", "gzip"))
    data = path.read_bytes()
    start_response("200 OK", [*kept, ("Content-Length", str(len(data)))])
    return [data]


application = WhiteNoise(internal, root=os.environ["UMAP_BENCH_STATIC"], prefix="/static/")
application.add_files(str(MEDIA), prefix="/uploads/")
"""

# Run in `umap shell`: the map and its clustered datalayer through uMap's models.
LOAD = """
import json, os, uuid
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from umap.models import DataLayer, Map, TileLayer

tiles = os.environ["UMAP_BENCH_TILES"]
# The only tile layer, so that nothing (the map, its switcher) names another host.
TileLayer.objects.exclude(url_template=tiles).delete()
TileLayer.objects.get_or_create(
    url_template=tiles, defaults={"name": "none", "attribution": "none", "rank": 1}
)
owner, _ = get_user_model().objects.get_or_create(username="bench")
source = os.environ["UMAP_BENCH_SOURCE"]  # SHA-256 of the GeoJSON file and this script
kept = Map.objects.filter(slug=os.environ["UMAP_BENCH_SLUG"], settings__properties__source=source)


def create():
    for old in Map.objects.filter(slug=os.environ["UMAP_BENCH_SLUG"]):
        old.delete()
    with open(os.environ["UMAP_BENCH_GEOJSON"]) as handle:
        features = json.load(handle)["features"]
    tilelayer = {"url_template": tiles, "minZoom": 5, "maxZoom": 18, "attribution": "none"}
    umap_map = Map.objects.create(
        name="Rallies",
        slug=os.environ["UMAP_BENCH_SLUG"],
        center=Point(27.9, 53.7),
        zoom=7,
        owner=owner,
        share_status=Map.PUBLIC,
        settings={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [27.9, 53.7]},
            "properties": {
                "name": "Rallies", "zoom": 7, "tilelayer": tilelayer, "miniMap": False,
                "zoomControl": True, "scaleControl": True,
                "source": source, "count": len(features),  # for the next run
            },
        },
    )
    options = {"name": "rallies", "displayOnLoad": True, "browsable": True, "type": "Cluster"}
    layer = DataLayer(
        uuid=uuid.uuid4(), map=umap_map, name="rallies", display_on_load=True, settings=options
    )
    data = {"type": "FeatureCollection", "features": features, "_umap_options": options}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)  # as uMap's client
    layer.geojson.save("rallies.geojson", ContentFile(text.encode()), save=False)
    layer.save()
    return umap_map


umap_map = kept[0] if kept.exists() else create()  # the same rallies: the same map and URL
print(f"MAP {umap_map.get_absolute_url()} {umap_map.settings['properties']['count']}")
"""


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    print("+", " ".join(part if len(part) < 80 else "..." for part in command), flush=True)
    return subprocess.run(command, check=True, **kwargs)  # noqa: S603


def ensure_venv(venv: Path) -> None:
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)])
    check = subprocess.run(  # noqa: S603
        [
            str(python),
            "-c",
            f"import umap, gunicorn, whitenoise, psycopg; "
            f"assert umap.VERSION == {UMAP_VERSION!r}, umap.VERSION",
        ],
        capture_output=True,
    )
    if check.returncode:
        run([str(python), "-m", "pip", "install", "-q", *PACKAGES])


def ensure_postgis(database: str) -> None:
    installed = subprocess.run(  # noqa: S603
        ["dpkg-query", "-W", "-f=${Status}", POSTGIS],  # noqa: S607
        capture_output=True,
        text=True,
    )
    if "install ok installed" not in installed.stdout:
        run(["apt-get", "install", "-y", "-q", POSTGIS])
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-tAc"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise SystemExit(f"not a plain database name: {database!r}")
    query = f"SELECT 1 FROM pg_database WHERE datname = '{database}'"  # noqa: S608 (checked)
    exists = run([*psql, query], capture_output=True, text=True).stdout.strip()
    if not exists:
        run([*psql, f'CREATE DATABASE "{database}"'])
    run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            "CREATE EXTENSION IF NOT EXISTS postgis",
        ]
    )


def demo_geojson(count: int, path: Path) -> None:
    """The rallies the bench's app serves at `count` (bench/browser.py serve()), as the
    uMap-like page reads them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from browser import serve  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        _, server, app = serve(count, Path(tmp))
        server.shutdown()
        body = app.test_client().get("/api/rallies.geojson?when=all&lang=en").data
    path.write_bytes(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home",
        default=os.path.expanduser("~/.cache/mapapp-bench/umap"),
        help="settings, static files, uploads and the GeoJSON",
    )
    parser.add_argument("--venv", help="uMap's virtualenv (default: HOME/venv)")
    parser.add_argument("--database", default="umap_bench")
    parser.add_argument("--count", type=int, default=10000, help="the bench's demo rallies")
    parser.add_argument("--geojson", help="a GeoJSON file of points instead of --count")
    parser.add_argument("--port", type=int, default=8019)
    parser.add_argument("--serve", action="store_true", help="then serve with gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    home = Path(args.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    venv = Path(args.venv).resolve() if args.venv else home / "venv"
    ensure_venv(venv)
    ensure_postgis(args.database)
    site = f"http://127.0.0.1:{args.port}"
    settings = home / "umap.conf"
    secret = home / "secret"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(40))
    settings.write_text(
        SETTINGS.format(
            secret=secret.read_text(),
            site=site,
            database=args.database,
            static=str(home / "static"),
            media=str(home / "uploads"),
        )
    )
    (home / "umap_bench_wsgi.py").write_text(WSGI)
    # uMap's processes without the project's path (and gunicorn away from its gunicorn.conf.py).
    env = {
        **{name: value for name, value in os.environ.items() if name != "PYTHONPATH"},
        "UMAP_SETTINGS": str(settings),
        "UMAP_BENCH_STATIC": str(home / "static"),
        "UMAP_BENCH_MEDIA": str(home / "uploads"),
    }
    umap = str(venv / "bin" / "umap")
    # collectstatic first: migrate loads uMap's URLs, which need the static files' manifest.
    run([umap, "collectstatic", "--noinput", "-v", "0"], env=env, cwd=home)
    run([umap, "migrate", "-v", "0"], env=env, cwd=home)

    geojson = home / "rallies.geojson"
    if args.geojson:
        if Path(args.geojson).resolve() != geojson:
            shutil.copyfile(args.geojson, geojson)
    else:
        demo_geojson(args.count, geojson)
    loaded = run(
        [umap, "shell", "-c", LOAD],
        env={
            **env,
            "UMAP_BENCH_TILES": TILES,
            "UMAP_BENCH_SLUG": SLUG,
            "UMAP_BENCH_GEOJSON": str(geojson),
            "UMAP_BENCH_SOURCE": hashlib.sha256(geojson.read_bytes() + LOAD.encode()).hexdigest(),
        },
        cwd=home,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    path, count = next(line for line in loaded.splitlines() if line.startswith("MAP ")).split()[1:]
    url = site + path
    print(f"uMap {UMAP_VERSION}: {count} points, clustered, at {url}", flush=True)
    print(url, flush=True)
    if args.serve:
        os.chdir(home)
        os.execve(  # noqa: S606
            str(venv / "bin" / "gunicorn"),
            [
                "gunicorn",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                str(args.workers),
                "--threads",
                "4",
                "--chdir",
                str(home),
                "--access-logfile",
                "-" if os.environ.get("UMAP_BENCH_LOG") else "/dev/null",
                "umap_bench_wsgi:application",
            ],
            env=env,
        )


if __name__ == "__main__":
    main()
