"""Cold and warm, apart: what a worker that has just started answers, against a warm one.

For this checkout and, with --baseline DIR, another checkout of the app (the code before a
change, e.g. `git worktree add /tmp/before main`), in alternated rounds on databases made the same
way (`init-db`, `demo-data --count N --seed 1`, each by its own code), each round:

- starts gunicorn (2 workers unless --workers) and times the first answer of each feed
  (GeoJSON, the map's feed, ICS, CSV; gzipped) with a filter never asked before, right after the
  start (cold), then the same address again and another new filter (warm);
- times the first answer of each feed with no filter (a common document, which the process
  that made a change prepares: mapapp.web.caching.prepare_documents), then the first with
  `when=all`, after a change made by another process (a rally's title edited through
  mapapp.domain.lifecycle; that process exits once its preparation is done), answered by
  whichever worker;
- asks for --attack random filters (every feed, region, dates, language) and reads each
  worker's resident memory.

Every round is printed; then the median of the rounds per code and, with a baseline, the
ratio. Only 127.0.0.1 is contacted; every loop is bounded in time.

    .venv/bin/python bench/cold.py --rallies 10000 [--rounds 3] [--baseline /tmp/before]
        [--workers 2] [--attack 300] [--database-url postgresql://postgres@127.0.0.1:5432/DB]
        [--database /tmp/100k.sqlite3 --base-url http://127.0.0.1:5790]

With --database-url, the databases are on PostgreSQL instead of SQLite files: this checkout's
there, the baseline's in a database of the same name ending in `_base` (made if missing);
both are emptied first: give a database of their own, not one tests use.

With --database, each checkout gets a copy of a SQLite database made once (100,000 rallies
take 20 minutes or more to make: `init-db`, then `demo-data --count N --seed 1`, with
MAPAPP_BASE_URL set to --base-url, so the feeds' parts are made for that address), then runs
`flask prepare-parts` on it, as after a deploy (a checkout whose code renders differently makes
every part again; the time is printed). The servers listen on --base-url's port, one at a time.

With --database-url and --template NAME, the same on PostgreSQL: each checkout's database is
made anew as a copy of the database NAME (`CREATE DATABASE ... TEMPLATE NAME`: seconds, where
`demo-data` at 100,000 takes 12 minutes or more), the baseline's from NAME_base when that
exists (a copy whose parts the baseline's `prepare-parts` has already made), then `init-db` and
`prepare-parts` run on it. NAME is made once, with MAPAPP_BASE_URL set to --base-url's
address and MAPAPP_DATABASE_URL to NAME's: `init-db`, then `demo-data --count N --seed 1`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import (  # noqa: E402
    BIN,
    GZIP,
    ROOT,
    cpu_ns,
    free_port,
    get,
    wait_until_up,
    worker_memory,
    workers_of,
)

REGIONS = ("BY-BR", "BY-HO", "BY-HR", "BY-HM", "BY-MA", "BY-MI", "BY-VI")
LANGS = ("be", "ru", "en")
FEEDS = {
    "GeoJSON": "/api/rallies.geojson?when=all",
    "map feed": "/api/rallies.geojson?when=all&fields=map&lang=be",
    "ICS": "/rallies.ics?when=all&lang=be",
    "CSV": "/rallies.csv?when=all&lang=be",
}


def new_filter(rng: random.Random) -> str:
    """A filter no one asked before (a region, a language and a date range)."""
    first = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 700))
    last = first + timedelta(days=rng.randrange(30, 900))
    return f"&region={rng.choice(REGIONS)}&from={first}&to={last}"


class DatabaseCPU:
    """CPU time PostgreSQL's processes serving one database have used so far (ns, from
    /proc: the server is on this machine), read between two answers as the workers' is: on
    PostgreSQL part of an answer's work is the database's, which the workers' CPU leaves out.
    A connection closed in between takes its share with it (the workers' pools keep theirs)."""

    def __init__(self, url: str | None) -> None:
        self.name = url.rsplit("/", 1)[1] if url else None
        self.connection = None
        if url:
            import psycopg

            head = url.rsplit("/", 1)[0]
            self.connection = psycopg.connect(head + "/postgres", autocommit=True)

    def __call__(self) -> int:
        if self.connection is None:
            return 0
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
        ).fetchall()
        total = 0
        for (pid,) in rows:
            try:
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
            except (OSError, ValueError):
                continue
        return total


def timed(port: int, path: str, master: int, database: DatabaseCPU) -> tuple[float, float, float]:
    """The answer's time from here (ms), the workers' CPU time it took (ms) and the
    database's (ms; 0 on SQLite, whose work is the workers'): on a shared machine the CPU
    times are what the server spends, whatever else runs."""
    used, used_db = cpu_ns(master), database()
    start = time.perf_counter()
    status, _, _ = get(port, path, GZIP)
    elapsed = (time.perf_counter() - start) * 1000
    if status != 200:
        raise SystemExit(f"{path}: {status}")
    return elapsed, (cpu_ns(master) - used) / 1e6, (database() - used_db) / 1e6


def empty_postgresql(url: str) -> None:
    """Make the PostgreSQL database at `url` if missing, and empty it."""
    from sqlalchemy import create_engine, text

    url = url.replace("postgresql://", "postgresql+psycopg://")
    head, name = url.rsplit("/", 1)
    engine = create_engine(head + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if found is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def copy_postgresql(url: str, template: str) -> None:
    """Make the PostgreSQL database at `url` anew as a copy of the database `template`, or of
    `template`_base when `url` is a baseline's and that one exists."""
    from sqlalchemy import create_engine, text

    url = url.replace("postgresql://", "postgresql+psycopg://")
    head, name = url.rsplit("/", 1)
    engine = create_engine(head + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if name.endswith("_base"):
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": template + "_base"},
            ).first()
            template += "_base" if found else ""
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine.dispose()
    print(f"{name}: a copy of {template}", flush=True)


def edit_one(rally_id: int, title: str) -> None:
    """Run in another process: a moderator's edit of one rally's title."""
    from mapapp import create_app
    from mapapp.domain import db, lifecycle
    from mapapp.domain.models import Rally

    with create_app().app_context():
        session = db.session(write=True)
        lifecycle.edit(session, session.get(Rally, rally_id), {"title": title}, "moderator:bench")


def add_staged(seconds: float) -> None:
    """Run in another process: an approved rally in Hrodna whose place is revealed `seconds`
    from now (staged disclosure): a moment the data version moves by itself, at which every
    worker that has served a request prepares the new version's common documents."""
    from datetime import UTC, datetime

    from mapapp import create_app
    from mapapp.domain import db, lifecycle

    reveal = datetime.now(UTC) + timedelta(seconds=seconds)
    values = {
        "title": "Пікет з адкрыццём месца",
        "description": "Месца будзе вядомае пазней.",
        "town": "Гродна",
        "place": "Плошча Савецкая",
        "region": "BY-HR",
        "lat": 53.6784,
        "lon": 23.8297,
        "starts_at": reveal + timedelta(hours=2),
        "reveal_at": reveal,
    }
    with create_app().app_context():
        lifecycle.create(db.session(write=True), values, True, actor="bench")


def process_memory(pid: int) -> tuple[float, float]:
    """A process's resident memory and its peak (VmRSS, VmHWM; MiB), from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = [re.search(rf"^{key}:\s+(\d+)", status, re.M) for key in ("VmRSS", "VmHWM")]
    return int(found[0].group(1)) / 1024, int(found[1].group(1)) / 1024


def children(pid: int) -> list[int]:
    """The processes `pid` has started and that still run (its threads' children), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class Code:
    """One checkout of the app with its own database, server port and environment (`extra`:
    a --variant's variables, added to the environment of this checkout's commands and server)."""

    def __init__(
        self,
        name: str,
        root: Path,
        tmp: Path,
        args: argparse.Namespace,
        extra: dict[str, str] | None = None,
        suffix: str = "",
    ) -> None:
        self.name, self.root, self.tmp = name, root, tmp
        base_url = args.base_url if args.database or args.template else None
        self.port = urlsplit(base_url).port if base_url else free_port()
        url = None
        if args.database_url:
            url = args.database_url + (suffix or ("" if name == "this" else "_base"))
        file = tmp / ((suffix.lstrip("_") or name) + ".sqlite3")
        self.env = {
            **os.environ,
            "PYTHONPATH": str(root),
            "MAPAPP_DATABASE_URL": url or f"sqlite:///{file}",
            "MAPAPP_SECRET_KEY": "bench",
            "MAPAPP_DEVELOPMENT": "1",
            # The feeds' links: a declared address, as in production.
            "MAPAPP_BASE_URL": base_url or f"http://127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(args.workers),
            # Every random filter built: one client's 30 new builds a minute (the default)
            # would answer most of them 429, and the memory would be of a few dozen builds.
            "MAPAPP_BUILD_LIMIT": "100000 per minute",
            "MAPAPP_BUILD_TOTAL_LIMIT": "100000 per minute",
            **(extra or {}),
        }
        self.env.pop("MAPAPP_REDIS_URL", None)
        flask = [str(BIN / "flask"), "--app", "mapapp"]
        if url and args.template:
            copy_postgresql(url, args.template)
        elif url:
            empty_postgresql(url)
        start = time.perf_counter()
        if args.database or args.template:
            if args.database:
                shutil.copyfile(args.database, file)
            commands = [["init-db"], ["prepare-parts"]]
        else:
            commands = [["init-db"], ["demo-data", "--count", str(args.rallies), "--seed", "1"]]
        for command in commands:
            run = [*flask, *command]
            done = subprocess.run(run, env=self.env, cwd=root, check=True, capture_output=True)  # noqa: S603
            print(
                f"{name}: {' '.join(command)} done at {time.perf_counter() - start:.0f} s",
                flush=True,
            )
            if command == ["prepare-parts"]:
                print(f"  {done.stdout.decode().strip()}", flush=True)
        self.database_cpu = DatabaseCPU(url)
        self.rounds: list[dict[str, tuple[float, float, float]]] = []

    def round(self, number: int, args: argparse.Namespace) -> None:
        # The same filters for every checkout in a round (a new filter's first answer depends
        # on how many rallies it selects: a region's 20 months against its 30 days).
        rng = random.Random(number * 7919)
        config = self.root / "gunicorn.conf.py"
        env = {**self.env, "PORT": str(self.port)}
        inspect = None
        if args.inspect:
            # The checkout's settings and bench/workermem.py's hook: each worker writes what
            # it holds on SIGUSR2.
            inspect = Path(tempfile.mkdtemp(dir=self.tmp))
            config = inspect / "gunicorn_inspect.py"
            config.write_text(
                f"exec(open({str(self.root / 'gunicorn.conf.py')!r}).read())\n"
                f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
                "from workermem import post_worker_init  # noqa: E402, F401\n"
            )
            env["MAPAPP_BENCH_INSPECT"] = str(inspect)
        server = subprocess.Popen(  # noqa: S603
            [str(BIN / "gunicorn"), "-c", str(config), "mapapp:create_app()"],
            env=env,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        figures: dict[str, tuple[float, float, float]] = {}
        master = server.pid
        try:
            wait_until_up(self.port, server, "/healthz")
            if not args.memory_only:
                self.timings(number, args, rng, master, figures)
            paths = list(FEEDS.values())
            built = 0
            for _ in range(args.attack):
                path = rng.choice(paths).replace("lang=be", f"lang={rng.choice(LANGS)}")
                built += get(self.port, path + new_filter(rng), GZIP)[0] == 200
            if built < args.attack:
                print(
                    f"  {args.attack - built} of {args.attack} random filters refused", flush=True
                )
            sizes = sorted(size / 1024 for size in worker_memory(server.pid))
            figures["memory a worker, MiB (largest)"] = (sizes[-1], sizes[-1], 0.0)
            figures["memory a worker, MiB (smallest)"] = (sizes[0], sizes[0], 0.0)
            if args.boundary:
                self.boundary(args, server.pid, figures)
            if inspect is not None:
                self.inspect(server.pid, inspect, figures)
        finally:
            server.terminate()
            server.wait(timeout=60)
        self.rounds.append(figures)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"{self.name} round {number} (load average after it {load}):", flush=True)
        for key, (wall, cpu, db_cpu) in figures.items():
            if key.startswith(("memory", "held", "after a boundary:")):
                print(f"  {key:36} {wall:8.1f}", flush=True)
                continue
            print(
                f"  {key:36} {wall:8.0f} ms, CPU {cpu:6.0f} ms, database {db_cpu:6.0f} ms",
                flush=True,
            )

    def boundary(self, args: argparse.Namespace, master: int, figures: dict) -> None:
        """After the attack: a moment the data version moves by itself (a place revealed
        args.boundary s after another process adds its rally; a few requests then, so the
        workers learn of it), at which every worker that did prepares
        the new version's common documents; for args.boundary_wait s from then, each worker's
        resident memory and the most that any child of a worker (a preparing child,
        MAPAPP_PREPARE_IN_CHILD) held, read every 0.2 s; then each worker's peak (VmHWM)."""
        command = [sys.executable, __file__, "--add-staged", str(args.boundary)]
        # That process prepares nothing itself (at 100,000 rallies its preparation could
        # outlast the moment), so what is measured is the workers' preparation at it.
        env = {**self.env, "MAPAPP_PREPARE_DOCUMENTS": "0"}
        subprocess.run(command, env=env, cwd=self.root, check=True, capture_output=True)  # noqa: S603
        # Visitors of the list page after the change: each worker that answers one learns the
        # new moment (mapapp.web.caching.watch_boundary; the map page reads no data version).
        # The list, not a feed: a feed of the new version, prepared by no one, would be built
        # by the worker that answers it.
        for _ in range(4 * len(workers_of(master))):
            get(self.port, "/rallies?lang=be", GZIP)
        workers = workers_of(master)
        largest = dict.fromkeys(workers, 0.0)
        child_largest, seen = 0.0, set()
        deadline = time.monotonic() + args.boundary + args.boundary_wait
        while time.monotonic() < deadline:
            for pid in workers:
                largest[pid] = max(largest[pid], process_memory(pid)[0])
                for child in children(pid):
                    try:
                        child_largest = max(child_largest, process_memory(child)[0])
                    except (OSError, AttributeError):
                        continue
                    seen.add(child)
            time.sleep(0.2)
        after = [process_memory(pid) for pid in workers]
        figures["after a boundary: a worker, MiB (largest)"] = (max(a[0] for a in after),) * 2 + (
            0.0,
        )
        figures["after a boundary: a worker at most, MiB"] = (max(largest.values()),) * 2 + (0.0,)
        figures["after a boundary: a worker's peak VmHWM"] = (max(a[1] for a in after),) * 2 + (
            0.0,
        )
        figures["after a boundary: preparing children"] = (len(seen), len(seen), 0.0)
        figures["after a boundary: a child at most, MiB"] = (child_largest, child_largest, 0.0)

    def inspect(self, master: int, folder: Path, figures: dict) -> None:
        """Each worker's report (bench/workermem.py), printed whole and its main figures
        kept for the medians (of the larger worker)."""
        pids = workers_of(master)
        for pid in pids:
            os.kill(pid, signal.SIGUSR2)
        reports = []
        for pid in pids:
            path = folder / f"{pid}.json"
            for _ in range(6000):  # at most 600 s: a worker's report walks its caches (with
                # tracemalloc, minutes)
                if path.exists():
                    break
                time.sleep(0.1)
            if not path.exists():
                print(f"  worker {pid}: no report", flush=True)
                continue
            reports.append(json.loads(path.read_text()))
            print(f"  worker {pid}'s report: {path.read_text()}", flush=True)
        if not reports:
            return
        found = max(reports, key=lambda item: item["before"]["VmRSS"])
        heap = found.get("malloc", {})
        rows = {
            "held: RSS": found["before"]["VmRSS"],
            "held: malloc in use": heap.get("in use, MiB", 0.0),
            "held: malloc free in heaps": heap.get("free in heaps, MiB", 0.0),
            "held: malloc mmapped": heap.get("mmapped blocks, MiB", 0.0),
            "held: arenas": heap.get("arenas", 0),
            "held: pymalloc arenas": found["python"].get("pymalloc arenas, MiB", 0.0),
            "held: entries' parts": found["caches"].get("entries' parts (deep), MiB", 0.0),
            "held: entries' rallies": found["caches"].get("entries' rallies (deep), MiB", 0.0),
            "held: entries, keys": found["caches"].get(
                "entries themselves and keys (deep), MiB", 0.0
            ),
            "held: chunk cache": found["caches"].get("chunk cache, MiB", 0.0),
            "held: memoized documents": found["caches"].get("memoized documents (deep), MiB", 0.0),
            "held: RSS after malloc_trim(0)": found.get("after malloc_trim(0)", {}).get(
                "VmRSS", 0.0
            ),
        }
        for key, value in rows.items():
            figures[key] = (float(value), float(value), 0.0)

    def timings(
        self,
        number: int,
        args: argparse.Namespace,
        rng: random.Random,
        master: int,
        figures: dict[str, tuple[float, float, float]],
    ) -> None:
        """A just-started worker's first answers, warm ones, and the first after a change."""
        for name, path in FEEDS.items():
            asked = path + new_filter(rng)
            figures[f"cold {name}, new filter"] = timed(self.port, asked, master, self.database_cpu)
            figures[f"warm {name}, same"] = timed(self.port, asked, master, self.database_cpu)
            figures[f"warm {name}, new filter"] = timed(
                self.port, path + new_filter(rng), master, self.database_cpu
            )
        for name, path in FEEDS.items():
            figures[f"first {name} when=all"] = timed(self.port, path, master, self.database_cpu)
        for n, (name, path) in enumerate(FEEDS.items()):
            # The common document (no filter, `when` at its default), then `when=all`.
            common = path.replace("when=all&", "").replace("?when=all", "")
            title = f"Пікет пасля змены {number}-{n}"
            command = [
                sys.executable,
                __file__,
                "--edit-one",
                str(1 + n * 97 % args.rallies),
                title,
            ]
            done = {"env": self.env, "cwd": self.root, "check": True, "capture_output": True}
            subprocess.run(command, **done)  # noqa: S603
            time.sleep(0.3)
            figures[f"after a change {name}, no filter"] = timed(
                self.port, common, master, self.database_cpu
            )
            figures[f"after a change {name} when=all"] = timed(
                self.port, path, master, self.database_cpu
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rallies", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--attack", type=int, default=300, help="random filters before memory")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument(
        "--database-url",
        help="this checkout's database (PostgreSQL; the baseline's: the same name + _base),"
        " emptied first",
    )
    parser.add_argument("--database", type=Path, help="a SQLite database made once, copied")
    parser.add_argument(
        "--template",
        help="with --database-url: a PostgreSQL database made once, copied (NAME_base for the"
        " baseline when it exists)",
    )
    parser.add_argument(
        "--base-url",
        default="http://127.0.0.1:5790",
        help="what --database or --template was made with",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="this checkout again with these environment variables (its own database copy),"
        " e.g. MALLOC_ARENA_MAX=2; repeatable",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="no timings: start, the random filters, memory",
    )
    parser.add_argument(
        "--inspect",
        action="store_true",
        help="each worker's report of what it holds after the random filters (bench/workermem.py)",
    )
    parser.add_argument("--edit-one", nargs=2, metavar=("ID", "TITLE"), help=argparse.SUPPRESS)
    parser.add_argument("--add-staged", type=float, help=argparse.SUPPRESS)
    parser.add_argument(
        "--boundary",
        type=float,
        default=0.0,
        help="after the random filters, a place revealed this many seconds later: every worker"
        " prepares at that moment; memory read through it",
    )
    parser.add_argument(
        "--boundary-wait", type=float, default=90.0, help="seconds memory is read after it"
    )
    args = parser.parse_args()
    if args.template and not args.database_url:
        parser.error("--template needs --database-url")
    if args.add_staged is not None:
        add_staged(args.add_staged)
        return
    if args.edit_one:
        edit_one(int(args.edit_one[0]), args.edit_one[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        codes = [Code("this", ROOT, Path(tmp), args)]
        for n, variant in enumerate(args.variant, 1):
            extra = dict(item.split("=", 1) for item in variant.split(","))
            codes.append(Code(f"this {variant}", ROOT, Path(tmp), args, extra, f"_v{n}"))
        if args.baseline:
            codes.append(Code("baseline", args.baseline.resolve(), Path(tmp), args))
        for number in range(args.rounds):
            # Alternated: each round in the other order (with more than two, rotated).
            shift = number % len(codes)
            for code in (
                codes[shift:] + codes[:shift]
                if len(codes) > 2
                else (codes if number % 2 == 0 else list(reversed(codes)))
            ):
                code.round(number, args)
        print(
            f"\nmedians of {args.rounds} rounds, {args.rallies} rallies: time from here (ms) and, in"
        )
        print(
            "brackets, the workers' CPU time + the database's (ms; PostgreSQL's processes; the"
            " figures a shared machine does not blur)"
        )
        keys = list(dict.fromkeys(key for code in codes for r in code.rounds for key in r))
        header = "".join(f"{code.name:>28}" for code in codes)
        print(f"  {'':36}{header}{'   ratio (CPU)' if len(codes) > 1 else ''}")
        for key in [key for key in keys if key.startswith(("memory", "held", "after a boundary:"))]:
            # MiB (or a count); with more than one code, each against the last (the baseline).
            values = [
                statistics.median([r[key][0] for r in code.rounds if key in r] or [0.0])
                for code in codes
            ]
            line = "".join(f"{value:28.1f}" for value in values)
            if len(values) > 1 and values[-1]:
                line += "  " + " / ".join(f"{value / values[-1]:.2f}x" for value in values[:-1])
            print(f"  {key:36}{line}")
        for key in [
            key for key in keys if not key.startswith(("memory", "held", "after a boundary:"))
        ]:
            values = [
                tuple(statistics.median(r[key][i] for r in code.rounds) for i in range(3))
                for code in codes
            ]
            line = "".join(f"{wall:10.0f} ({cpu:6.0f} + {db:5.0f})" for wall, cpu, db in values)
            if len(values) > 1 and values[1][0] and values[1][1] + values[1][2]:
                both = [cpu + db for _, cpu, db in values]
                line += f"  {values[0][0] / values[1][0]:5.2f}x ({both[0] / both[1]:5.2f}x)"
            print(f"  {key:36}{line}")


if __name__ == "__main__":
    main()
