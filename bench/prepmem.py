"""The memory of a process that prepares the common documents, this checkout against another.

In one process (`create_app()`, no gunicorn): a rally's title is edited through
mapapp.domain.lifecycle on a copy of a SQLite database, the preparation of the common documents
that follows (mapapp.web.caching.prepare_documents: 26 documents, `when=all` among them) is
waited for, and the process's figures are read as bench/workermem.py reads a worker's: resident
memory and its peak, the entries kept and the parts on them (deep, against what the parts'
budget counts), the gzip chunks. Rounds alternate this checkout and --baseline's, each in a
process of its own, on a copy of --database of its own (made once, then edited each round);
each round is printed, then the medians and their ratio.

    .venv/bin/python bench/prepmem.py --database /tmp/mem9/100k.sqlite3 \
        --base-url http://127.0.0.1:5791 --baseline /tmp/before [--rounds 3] [--fresh]

--base-url: the address the database's feeds' parts were made for (MAPAPP_BASE_URL of its
`demo-data`). --fresh: each round under a rendering fingerprint no part or chunk is kept for
(mapapp.publishing.public.rendering_fingerprint, here set for the bench's process alone), so
every part of the 26 documents is made and every chunk compressed, as after a deploy whose
`prepare-parts` has not run: the most a preparation reads. Without it both checkouts use the
fingerprint the database's parts were made under (read from it), as a preparation after a
boundary does, since a change to this code changes the fingerprint too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD_FIGURES = (
    "rss",
    "hwm",
    "entries",
    "entries_mib",
    "parts_mib",
    "parts_counted_mib",
    "chunks_mib",
    "memo_mib",
    "seconds",
)


def child(fingerprint: str) -> None:
    """One process: edit, prepare, report (JSON on the last line of stdout)."""
    sys.path.insert(0, str(HERE))
    import workermem

    from mapapp import create_app
    from mapapp.domain import db, lifecycle
    from mapapp.domain.models import Rally
    from mapapp.publishing import partstore, public
    from mapapp.web import caching

    public.rendering_fingerprint = partstore.rendering_fingerprint = lambda: fingerprint
    app = create_app()
    with app.app_context():
        session = db.session(write=True)
        title = f"Пікет для праверкі памяці {time.time()}"
        lifecycle.edit(session, session.get(Rally, 5), {"title": title}, "moderator:bench")
    started = time.perf_counter()
    time.sleep(caching.QUIET + 0.5)
    caching.wait_prepared(app, 1200)
    seconds = time.perf_counter() - started
    state = workermem.status()
    found = workermem.caches(app)
    print(
        json.dumps(
            {
                "rss": state["VmRSS"],
                "hwm": state["VmHWM"],
                "entries": found.get("entries", 0),
                "entries_mib": found.get("entries themselves and keys (deep), MiB", 0)
                + found.get("entries' rallies (deep), MiB", 0),
                "parts_mib": found.get("entries' parts (deep), MiB", 0),
                "parts_counted_mib": found.get("parts budget counted, MiB", 0),
                "chunks_mib": found.get("chunk cache, MiB", 0),
                "memo_mib": found.get("memoized documents (deep), MiB", 0),
                "seconds": seconds,
            }
        )
    )


def stored_fingerprint(database: Path) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        row = connection.execute("SELECT context FROM published_part LIMIT 1").fetchone()
    return row[0].split("|", 1)[0]


def run(checkout: Path, database: Path, base_url: str, fingerprint: str) -> dict:
    env = dict(os.environ)
    env.pop("MAPAPP_REDIS_URL", None)
    env.update(
        PYTHONPATH=str(checkout),
        MAPAPP_DATABASE_URL=f"sqlite:///{database}",
        MAPAPP_BASE_URL=base_url,
        MAPAPP_SECRET_KEY="bench",  # noqa: S106 - a bench's own process
        MAPAPP_DEVELOPMENT="1",
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(HERE / "prepmem.py"), "--child", fingerprint],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"the round in {checkout} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", type=Path)
    parser.add_argument("--base-url", default="http://127.0.0.1:5791")
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    here = HERE.parent
    codes = [("after", here)] + ([("before", args.baseline.resolve())] if args.baseline else [])
    tmp = Path(tempfile.mkdtemp(prefix="prepmem-"))
    try:
        copies = {}
        for name, _ in codes:
            copies[name] = tmp / f"{name}.sqlite3"
            shutil.copyfile(args.database, copies[name])
        stored = stored_fingerprint(args.database)
        results: dict[str, list[dict]] = {name: [] for name, _ in codes}
        for number in range(args.rounds):
            order = codes if number % 2 == 0 else codes[::-1]
            for name, checkout in order:
                fingerprint = f"b{uuid.uuid4().hex[:11]}" if args.fresh else stored
                found = run(checkout, copies[name], args.base_url, fingerprint)
                results[name].append(found)
                shown = " ".join(f"{key} {found[key]:.0f}" for key in CHILD_FIGURES)
                print(f"round {number} {name:6}: {shown}", flush=True)
        print("medians (MiB; entries a count; seconds):")
        medians = {
            name: {key: statistics.median(r[key] for r in rows) for key in CHILD_FIGURES}
            for name, rows in results.items()
        }
        for name, row in medians.items():
            print(f"  {name:6}: " + " ".join(f"{key} {row[key]:.1f}" for key in CHILD_FIGURES))
        if args.baseline:
            after, before = medians["after"], medians["before"]
            print(f"  resident after / before: {after['rss'] / before['rss']:.2f}x")
            print(f"  peak after / before: {after['hwm'] / before['hwm']:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
