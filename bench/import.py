"""A big import-rallies while people submit through the form: does the site keep taking them?

Writes a CSV of N approved rallies (lat/lon given, so no geocoding), runs
`flask --app mapapp import-rallies` on a fresh SQLite file in a terminal (its progress bars as a
person sees them), and meanwhile submits a rally through the form twice a second from
another process's connection. Prints:
- the import's time, and when each progress bar reached 100 % (seconds from the start);
- the submissions during the import: how many, how many failed (any answer but the form's
  303, e.g. a 500 with "database is locked"), their median and longest time, against the
  same submissions with no import running (the baseline, measured first in the same run);
- whether every acknowledged submission and every imported row is stored.

    .venv/bin/python bench/import.py [--rows 50000]
"""

from __future__ import annotations

import argparse
import csv
import os
import pty
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from mapapp import create_app
from mapapp.domain import db
from mapapp.domain.models import Rally

ROOT = Path(__file__).resolve().parent.parent
PERCENT = re.compile(rb"(Checking rows|Importing)\s+\[[^\]]*\]\s+(\d+)%")


def write_csv(path: Path, rows: int) -> None:
    starts = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "title",
                "city",
                "place",
                "starts_at",
                "description",
                "lat",
                "lon",
                "status",
                "contact",
            ]
        )
        for n in range(rows):
            writer.writerow(
                [f"Імпарт {n}", "Гродна", "Савецкая плошча", starts.isoformat(),
                 "Пікет салідарнасці", "53.6778", "23.8297", "approved", ""]
            )  # fmt: skip


def submit_form(client, title: str) -> tuple[int, float]:  # noqa: ANN001
    day = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%d")
    data = {
        "title": title, "town": "Гродно", "place": "Савецкая плошча", "date": day,
        "time": "19:00", "description": "Апісанне", "contact": "", "website": "",
        "step": "confirm", "lat": "53.6778", "lon": "23.8297", "geonameid": "",
    }  # fmt: skip
    start = time.monotonic()
    try:
        status = client.post("/submit", data=data).status_code
    except Exception:  # noqa: BLE001 - counted as a failure
        status = 0
    return status, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mapapp-import-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'import.sqlite3'}"
        env = dict(os.environ, MAPAPP_DATABASE_URL=url, MAPAPP_SECRET_KEY=secrets.token_hex(16))
        flask = [sys.executable, "-m", "flask", "--app", "mapapp"]
        subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
        write_csv(folder / "rallies.csv", args.rows)
        app = create_app(
            {"DATABASE_URL": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
             "RATELIMIT_ENABLED": False}
        )  # fmt: skip
        client = app.test_client()
        baseline = [submit_form(client, f"Да імпарту {n}") for n in range(10)]

        # The import in a terminal, so click draws its bars; the bytes read with the time.
        leader, follower = pty.openpty()
        started = time.monotonic()
        process = subprocess.Popen(  # noqa: S603
            [*flask, "import-rallies", str(folder / "rallies.csv")],
            cwd=ROOT, env=env, stdin=follower, stdout=follower, stderr=follower,
        )  # fmt: skip
        os.close(follower)
        hundred: dict[str, float] = {}
        output = bytearray()

        def read() -> None:
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                output.extend(chunk)
                for label, percent in PERCENT.findall(chunk):
                    if percent == b"100":
                        hundred.setdefault(label.decode(), time.monotonic() - started)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        during, titles = [], []
        while process.poll() is None:
            title = f"Падчас імпарту {len(during)}"
            during.append(submit_form(client, title))
            titles.append(title)
            time.sleep(0.5)
        took = time.monotonic() - started
        reader.join(2)
        with app.app_context():
            stored = db.session().scalar(select(func.count(Rally.id)))
            found = set(db.session().scalars(select(Rally.title).where(Rally.title.in_(titles))))
        acknowledged = [t for t, (status, _) in zip(titles, during, strict=True) if status == 303]
        imported = re.search(rb"Imported (\d+) rallies", bytes(output))

        print(f"import-rallies, {args.rows:,} rows, exit {process.returncode}, {took:.1f} s")
        for label in ("Checking rows", "Importing"):
            at = hundred.get(label)
            print(f"  {label!r} bar at 100 %: " + (f"{at:.1f} s" if at else "never seen"))
        for name, runs in (("baseline (no import)", baseline), ("during the import", during)):
            times = [seconds for _, seconds in runs]
            failed = sum(1 for status, _ in runs if status != 303)
            print(
                f"  submissions {name:<22} {len(runs):>4}  failed {failed}  median "
                f"{1000 * statistics.median(times):.0f} ms  longest {1000 * max(times):.0f} ms"
            )
        base_median = statistics.median(s for _, s in baseline)
        print(
            "  during / baseline: median "
            f"{statistics.median(s for _, s in during) / base_median:.2f}x, longest "
            f"{max(s for _, s in during) / base_median:.2f}x the baseline's median"
        )
        print(
            f"  stored: {len(found)}/{len(acknowledged)} acknowledged submissions; "
            f"imported {imported.group(1).decode() if imported else '?'}; "
            f"{stored} rallies in all (13 seed + 10 baseline + import + submissions)"
        )


if __name__ == "__main__":
    main()
