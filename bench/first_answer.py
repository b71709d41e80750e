"""A new worker's first answers: this process creates the app on MAPAPP_DATABASE_URL (as a
gunicorn worker that has just started does), asks for /healthz, then for each PATH prints the
CPU time (ms) of its first answer, gzipped, and of the same address again (warm).

Run it several times, alternating checkouts (`PYTHONPATH=<checkout>`), on copies of one database:
the first run of a checkout builds what later processes may find kept.

    MAPAPP_DATABASE_URL=sqlite:////tmp/db.sqlite3 MAPAPP_BASE_URL=http://127.0.0.1:5731 \\
        .venv/bin/python bench/first_answer.py "/rallies.ics?when=all&lang=be" ...
"""

from __future__ import annotations

import argparse
import gzip
import os
import time

from mapapp import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    # The feeds' links go to the declared address, as in production.
    base = os.environ.get("MAPAPP_BASE_URL") or "http://localhost"
    app = create_app()
    client = app.test_client()
    client.get("/healthz")
    zipped = {"Accept-Encoding": "gzip"}
    for path in args.paths:
        start = time.process_time()
        first = client.get(path, headers=zipped, base_url=base)
        cold = (time.process_time() - start) * 1000
        start = time.process_time()
        client.get(path, headers=zipped, base_url=base)
        warm = (time.process_time() - start) * 1000
        if first.status_code != 200:
            raise SystemExit(f"{path}: {first.status_code}")
        plain = client.get(path, base_url=base).data
        same = "same" if gzip.decompress(first.data) == plain else "DIFFERENT"
        print(
            f"{path:56} first {cold:6.0f} ms CPU, again {warm:4.0f} ms;"
            f" {len(first.data):,} bytes gzipped, unzipped {same} as the plain answer"
        )


if __name__ == "__main__":
    main()
