"""How fast the map's data and shell are served with 10,000 rallies.

Baseline: building the GeoJSON from the database on every request (every cache cleared
each time: the documents, the per-rally parts, the gzip chunks). Against it: the rebuild
after a change (one rally edited; its unchanged neighbours' parts reused), the cached
answer and the 304. Printed as ratios against that baseline, measured in this run.
    .venv/bin/python bench/geojson.py [--rallies N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mapapp import create_app
from mapapp.domain import db, lifecycle
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import Rally
from mapapp.domain.seed import demo_rallies


def timed(function, repeat: int) -> float:  # noqa: ANN001
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rallies", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"})
        with app.app_context():
            db.upgrade_schema()
            session = db.session()
            rallies = demo_rallies(gazetteer(), args.rallies, seed=1)
            lifecycle.publish_many(session, rallies, actor="bench")
            session.commit()
        client = app.test_client()

        gz = {"Accept-Encoding": "gzip"}

        def uncached() -> None:
            for cache in ("geojson_cache", "public_entries", "gzip_chunks"):
                app.extensions.pop(f"mapapp.{cache}", None)
            assert client.get("/api/rallies.geojson?when=all", headers=gz).status_code == 200

        edits = iter(range(10**6))

        def after_a_change() -> float:
            """One rally edited, then the GeoJSON asked for: the request's seconds."""
            with app.app_context():
                session = db.session()
                rally = session.get(Rally, rallies[0].id)
                lifecycle.edit(session, rally, {"title": f"Пікет {next(edits)}"}, "moderator:b")
            start = time.perf_counter()
            assert client.get("/api/rallies.geojson?when=all", headers=gz).status_code == 200
            return time.perf_counter() - start

        def cached() -> None:
            assert client.get("/api/rallies.geojson?when=all", headers=gz).status_code == 200

        def conditional() -> None:
            headers = {**gz, "If-None-Match": etag}
            assert client.get("/api/rallies.geojson?when=all", headers=headers).status_code == 304

        def map_shell_cold() -> None:
            app.extensions.pop("mapapp.map_shells", None)
            assert client.get("/").status_code == 200

        def map_shell_warm() -> None:
            assert client.get("/").status_code == 200

        size = len(client.get("/api/rallies.geojson?when=all").data)
        zipped = client.get("/api/rallies.geojson?when=all", headers={"Accept-Encoding": "gzip"})
        base = timed(uncached, args.repeat)
        print(
            f"{args.rallies} rallies, GeoJSON {size / 1024:.0f} KiB, gzipped "
            f"{len(zipped.data) / 1024:.0f} KiB ({size / len(zipped.data):.1f}x smaller)"
        )
        print(f"geojson rebuilt each request (baseline): {base * 1000:8.2f} ms  1.00x")
        client.get("/api/rallies.geojson?when=all", headers=gz)
        after_a_change()  # every part made once
        took = statistics.median(after_a_change() for _ in range(args.repeat))
        print(f"{'geojson rebuilt after a change':40s} {took * 1000:8.2f} ms  {base / took:.1f}x")
        etag = client.get("/api/rallies.geojson?when=all", headers=gz).headers["ETag"]
        for name, function in [("geojson from cache", cached), ("geojson 304", conditional)]:
            took = timed(function, args.repeat)
            print(f"{name:40s} {took * 1000:8.2f} ms  {base / took:.1f}x faster")
        cold = timed(map_shell_cold, args.repeat)
        warm = timed(map_shell_warm, args.repeat)
        print(f"map page, folium rendered each time:      {cold * 1000:8.2f} ms  1.00x")
        print(f"map page, folium shell cached: {warm * 1000:19.2f} ms  {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
