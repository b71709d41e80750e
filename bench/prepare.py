"""What preparing the common documents after a change costs the moderator who made it.

On a copy of a database (SQLite, e.g. one `bench/cold.py` made), in one process through
Flask's test client, in alternated rounds with MAPAPP_PREPARE_DOCUMENTS on and off: a
moderator cancels a rally (the POST, its answer closed as a server closes it, which starts the
preparation in a thread), then at once opens the queue (`/moderate`, while the thread runs),
and the preparation's own time is read after. Prints every round and the medians.

    .venv/bin/python bench/prepare.py DATABASE.sqlite3 [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "correct horse battery"  # noqa: S105 - the bench's throwaway moderator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from conftest import make_app

    from mapapp.web import caching

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "bench.sqlite3"
        shutil.copy(args.database, copy)
        app = make_app(f"sqlite:///{copy}", BASE_URL="http://localhost")
        os.environ["MAPAPP_MODERATOR_PASSWORD"] = PASSWORD
        app.test_cli_runner().invoke(args=["create-moderator", "bench"])
        client = app.test_client()
        token = CSRF.search(client.get("/moderate/login").get_data(True)).group(1)
        client.post(
            "/moderate/login", data={"csrf_token": token, "name": "bench", "password": PASSWORD}
        )
        for path in caching.COMMON_GEOJSON + caching.COMMON_FEEDS:  # warm, as a worker is
            client.get(path, headers={"Accept-Encoding": "gzip"})
        figures: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
        rally = 100
        for number in range(args.rounds):
            for on in (True, False) if number % 2 == 0 else (False, True):
                app.config["PREPARE_DOCUMENTS"] = on
                rally += 7
                token = CSRF.search(client.get(f"/moderate/rallies/{rally}").get_data(True))
                start = time.perf_counter()
                response = client.post(
                    f"/moderate/rallies/{rally}/cancel", data={"csrf_token": token.group(1)}
                )
                response.close()
                answered = time.perf_counter()
                assert response.status_code == 303, response.status_code
                assert client.get("/moderate").status_code == 200
                queue = time.perf_counter()
                caching.wait_prepared(app)
                done = time.perf_counter()
                row = ((answered - start) * 1000, (queue - answered) * 1000, (done - queue) * 1000)
                figures[on].append(row)
                print(
                    f"round {number} prepare={'on ' if on else 'off'}: POST {row[0]:6.0f} ms, "
                    f"next page {row[1]:6.0f} ms, preparation left after it {row[2]:6.0f} ms",
                    flush=True,
                )
        for on in (True, False):
            medians = [statistics.median(r[i] for r in figures[on]) for i in range(3)]
            print(
                f"median prepare={'on ' if on else 'off'}: POST {medians[0]:.0f} ms, "
                f"next page {medians[1]:.0f} ms, preparation left {medians[2]:.0f} ms"
            )


if __name__ == "__main__":
    main()
