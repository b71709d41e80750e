"""The app under gunicorn with N demo rallies: what a crowd on the day of a call meets.

Makes a fresh database (`flask init-db` + `demo-data --count N`, timed), starts gunicorn
with the repo's gunicorn.conf.py (workers from the CPU count unless --workers) and, beside
it, the naive folium page (bench/naive.py: every marker inline, rendered per request) under
gunicorn with as many workers; then measures from this process over keep-alive connections,
in one run:

- throughput of `/healthz`, the naive page, `/`, `/embed`, the `/rallies` page, the GeoJSON
  (`?when=all`, gzipped) and its 304, the ICS and CSV feeds (`?when=all`, gzipped), each as
  a ratio against `/healthz` (measured in slices alternating with the row's own, so both
  meet the same load on a shared machine) and against the naive page; and the workers' CPU
  time per request (from /proc), against /healthz's in the same slices: what the server
  spends on one answer, which the load generator's own share of the cores does not blur;
- the first GeoJSON, ICS, CSV and map feed (`?fields=map`) answer after a change made by
  another process (a rally
  added by `flask demo-data`, or one rally edited through mapapp.domain.lifecycle), median of a few;
- bytes per rally gzipped; resident memory per worker.

    .venv/bin/python bench/serve.py --rallies 10000 [--seconds 4] [--connections 8]
        [--workers N] [--changes 5] [--database-url postgresql://...]
        [--only 304 "/ (map" /embed] [--slices 4]

--only measures just those throughput rows (names as printed), each in --slices slices.

With --database-url the tables there are emptied first (give a scratch database). Only
127.0.0.1 is contacted; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GZIP = {"Accept-Encoding": "gzip"}
# The naive page's gunicorn: its renders take seconds (minutes at 100,000 rallies).
NAIVE_ARGS = ("--timeout", "900", "--chdir", str(ROOT / "bench"))
FEEDS = {
    "GeoJSON": "/api/rallies.geojson?when=all",
    "ICS": "/rallies.ics?when=all",
    "CSV": "/rallies.csv?when=all",
    # The map's own compact form (mapapp.publishing.mapfeed), as the map asks for it.
    "map feed": "/api/rallies.geojson?when=all&fields=map&lang=be",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 600
) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path, headers=headers or {})
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, dict(answer.getheaders()), body


def throughput(
    port: int, path: str, seconds: float, connections: int, headers: dict | None = None
) -> tuple[float, float, int]:
    """Requests a second, p99 latency in ms and errors, over keep-alive connections.

    Requests under way at the deadline are waited for and counted."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        mine = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers or {})
                answer = connection.getresponse()
                answer.read()
                if answer.status >= 400:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                continue
            mine.append(time.perf_counter() - start)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else float("nan")
    return len(latencies) / elapsed, p99, errors[0]


def workers_of(master_pid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{master_pid}$", status, re.M):
            pids.append(int(entry.name))
    return pids


def worker_memory(master_pid: int) -> list[int]:
    """Resident memory of each gunicorn worker (KiB), from /proc."""
    sizes = []
    for pid in workers_of(master_pid):
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1)))
    return sizes


def cpu_ns(master_pid: int) -> int:
    """CPU time the workers have used so far (ns, every thread), from /proc."""
    total = 0
    for pid in workers_of(master_pid):
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError):
                continue
    return total


def wait_until_up(port: int, process: subprocess.Popen, path: str | None) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited ({process.returncode})")
        try:
            if path is None:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            if get(port, path, timeout=5)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn on port {port} did not come up")


def edit_one(rally_id: int, title: str) -> None:
    """Run in another process: a moderator's edit of one rally's title (a public change)."""
    from mapapp import create_app
    from mapapp.domain import db, lifecycle
    from mapapp.domain.models import Rally

    with create_app().app_context():
        session = db.session()
        lifecycle.edit(session, session.get(Rally, rally_id), {"title": title}, "moderator:bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rallies", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, help="default: gunicorn.conf.py's (CPUs + 1)")
    parser.add_argument("--changes", type=int, default=5, help="changes timed per feed")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="ROW",
        help="measure only the throughput rows whose names hold one of these (e.g. 304 embed)",
    )
    parser.add_argument("--slices", type=int, default=4, help="slices of each row (and /healthz)")
    parser.add_argument("--database-url", help="a scratch database (default: SQLite, temporary)")
    parser.add_argument("--edit-one", nargs=2, metavar=("ID", "TITLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.edit_one:
        edit_one(int(args.edit_one[0]), args.edit_one[1])
        return

    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        env = {
            **os.environ,
            "MAPAPP_DATABASE_URL": database_url,
            "MAPAPP_SECRET_KEY": "bench",
            "MAPAPP_DEVELOPMENT": "1",
            # One client address standing for many visitors: every worker's first builds of
            # every path, then the sizes and the changes' first answers. With a visitor's 30 a
            # minute the CSV and the map feed's sizes came back as 429s (printed as 0 KiB).
            "MAPAPP_BUILD_LIMIT": "600 per minute",
        }
        if args.workers:
            env["WEB_CONCURRENCY"] = str(args.workers)
        env.pop("MAPAPP_REDIS_URL", None)
        flask = [str(BIN / "flask"), "--app", "mapapp"]
        if args.database_url:
            empty(database_url)
        subprocess.run([*flask, "init-db"], env=env, check=True, capture_output=True)  # noqa: S603
        start = time.perf_counter()
        subprocess.run(  # noqa: S603
            [*flask, "demo-data", "--count", str(args.rallies), "--seed", "1"],
            env=env,
            check=True,
            capture_output=True,
        )
        made = time.perf_counter() - start
        port, naive_port = free_port(), free_port()
        server = subprocess.Popen(  # noqa: S603
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "mapapp:create_app()"],
            env={**env, "PORT": str(port)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers = args.workers or 0
        try:
            wait_until_up(port, server, "/healthz")
            workers = len(workers_of(server.pid))
            naive = subprocess.Popen(  # noqa: S603
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    str(workers),
                    *NAIVE_ARGS,
                    "--bind",
                    f"127.0.0.1:{naive_port}",
                    "naive:app",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_until_up(naive_port, naive, None)
                print(f"{args.rallies} demo rallies made in {made:.1f} s "
                      f"({database_url.split(':')[0]})")  # fmt: skip
                run(args, port, naive_port, server.pid, workers, env, flask)
            finally:
                naive.terminate()
                naive.wait(timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=60)


def empty(database_url: str) -> None:
    """Drop the app's tables in a scratch database, so demo-data starts from nothing."""
    from sqlalchemy import create_engine

    from mapapp.domain.models import Base

    engine = create_engine(database_url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


def warm(port: int, paths: list[str], workers: int) -> float:
    """Ask for every path from as many connections at once as there are workers, a few
    rounds, so that every worker has built everything; returns the seconds it took."""
    start = time.perf_counter()
    for _ in range(3):
        for path in paths:
            threads = [
                threading.Thread(target=get, args=(port, path, GZIP)) for _ in range(2 * workers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    return time.perf_counter() - start


def run(args, port, naive_port, master_pid, workers, env, flask) -> None:  # noqa: ANN001, PLR0913
    paths = ["/", "/embed", "/rallies", *FEEDS.values()]
    took = warm(port, paths, workers)
    print(f"gunicorn: {workers} workers; {args.connections} connections, {args.seconds:g} s a row; "
          f"first builds (every worker, every path, 3 rounds) {took:.0f} s")  # fmt: skip
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"on {os.cpu_count()} CPUs")  # fmt: skip

    sizes = {}
    for name, path in FEEDS.items():
        answers = [get(port, path), get(port, path, GZIP)]
        for status, headers, body in answers:
            if status != 200:  # a size of 0 said nothing of why
                raise SystemExit(
                    f"{path}: {status} {headers.get('Retry-After', '')} {body[:300]!r}"
                )
        plain, packed = (body for _, _, body in answers)
        sizes[name] = (len(plain), len(packed))
        print(f"{name}: {len(plain) / 1024:,.0f} KiB, gzipped {len(packed) / 1024:,.0f} KiB, "
              f"{len(packed) / args.rallies:.1f} B/rally gzipped")  # fmt: skip
    etag = get(port, FEEDS["GeoJSON"], GZIP)[1].get("ETag", "")

    rows = [
        ("/ (map page)", port, "/", GZIP),
        ("/embed", port, "/embed", GZIP),
        ("/rallies (list, page 1)", port, "/rallies", GZIP),
        ("GeoJSON when=all, gzip", port, FEEDS["GeoJSON"], GZIP),
        ("GeoJSON 304 (If-None-Match)", port, FEEDS["GeoJSON"], {**GZIP, "If-None-Match": etag}),
        ("ICS when=all, gzip", port, FEEDS["ICS"], GZIP),
        ("CSV when=all, gzip", port, FEEDS["CSV"], GZIP),
        ("map feed (fields=map), gzip", port, FEEDS["map feed"], GZIP),
    ]
    # The machine is shared: each row is measured in slices alternating with /healthz, and
    # its ratio is against the /healthz slices around it (the same load on both sides).
    slices = args.slices
    if args.only:
        rows = [row for row in rows if any(word in row[0] for word in args.only)]
    healthz = throughput(port, "/healthz", args.seconds, args.connections)
    # The naive page takes seconds a request: one connection a worker is all it can serve.
    naive = throughput(naive_port, "/", args.seconds, min(args.connections, workers), GZIP)
    print(f"{'what':30} {'req/s':>9} {'p99 ms':>9} {'errors':>6} {'vs /healthz':>11} "
          f"{'vs naive':>9} {'CPU/req':>9} {'vs /healthz':>11}")  # fmt: skip
    print(f"{'/healthz (baseline)':30} {healthz[0]:9.1f} {healthz[1]:9.1f} {healthz[2]:6d} "
          f"{1:10.2f}x {healthz[0] / naive[0]:8.0f}x")  # fmt: skip
    print(f"{'naive folium page (baseline)':30} {naive[0]:9.2f} {naive[1]:9.0f} {naive[2]:6d} "
          f"{naive[0] / healthz[0]:10.4f}x {1:8.0f}x")  # fmt: skip

    def timed(path: str, headers: dict | None = None) -> tuple[float, float, int, float]:
        """throughput(), and the workers' CPU per request (ms): what the server spends on
        one, whatever this process and the machine's other work take of the cores."""
        before = cpu_ns(master_pid)
        rate, p99, errors = throughput(port, path, args.seconds / slices, args.connections, headers)
        spent = (cpu_ns(master_pid) - before) / 1e6
        return rate, p99, errors, spent / max(1, rate * args.seconds / slices)

    for name, _to, path, headers in rows:
        own, base = [], []
        for _ in range(slices):
            base.append(timed("/healthz"))
            own.append(timed(path, headers))
        rate = statistics.mean(r[0] for r in own)
        around = statistics.mean(r[0] for r in base)
        p99, errors = max(r[1] for r in own), sum(r[2] for r in own)
        cpu, cpu_around = statistics.mean(r[3] for r in own), statistics.mean(r[3] for r in base)
        print(f"{name:30} {rate:9.1f} {p99:9.1f} {errors:6d} {rate / around:10.2f}x "
              f"{rate / naive[0]:8.0f}x {cpu:7.2f}ms {cpu_around / cpu:10.2f}x")  # fmt: skip

    if args.only:
        return
    # Changes made by another process, then the first answer of this server, each feed.
    ids = [int(i) for i in re.findall(rb'"id":(\d+),"geometry"', get(port, FEEDS["GeoJSON"])[2])]
    print(f"first answer after a change made by another process (median of {args.changes}, "
          f"gzipped, when=all):")  # fmt: skip
    for n, (name, path) in enumerate(FEEDS.items()):
        times, cpu = [], []
        for k in range(args.changes):
            if k % 2:  # a new rally, through the CLI
                seed = str(1000 + n * args.changes + k)
                command = [*flask, "demo-data", "--count", "1", "--seed", seed]
            else:  # one rally edited, through mapapp.domain.lifecycle
                rally_id = ids[(n * args.changes + k) * 7919 % len(ids)]
                title = f"Пікет пасля змены {n}-{k}"
                command = [sys.executable, __file__, "--edit-one", str(rally_id), title]
            subprocess.run(command, env=env, check=True, capture_output=True)  # noqa: S603
            time.sleep(0.5)  # the other process's exit is not this server's time
            used = cpu_ns(master_pid)
            start = time.perf_counter()
            status, _, body = get(port, path, GZIP)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((cpu_ns(master_pid) - used) / 1e6)
            assert status == 200, status
        print(f"  {name:8} {statistics.median(times):6.0f} ms (from {min(times):.0f} to "
              f"{max(times):.0f} ms; the workers' CPU {statistics.median(cpu):.0f} ms; "
              f"{len(body) / 1024:,.0f} KiB sent)")  # fmt: skip
    memory = worker_memory(master_pid)
    if memory:
        print(f"memory per worker (RSS): {', '.join(f'{kib / 1024:.0f} MiB' for kib in memory)}")


if __name__ == "__main__":
    main()
