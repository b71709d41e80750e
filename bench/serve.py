"""The app under gunicorn with N demo rallies: what a crowd on the day of a call meets.

Starts `flask init-db` + `demo-data` on a fresh database, then gunicorn (the repo's
gunicorn.conf.py), and measures from a second process over keep-alive connections:

- throughput of the map page, the embed, the list, the GeoJSON (full, gzipped) and its 304,
  the ICS and CSV feeds, each as a ratio against `/healthz` measured in the same run;
- the map page against the naive folium page (every marker inline, rendered per request);
- the first GeoJSON answer after a change made by another process (the rebuild);
- bytes per rally of the gzipped GeoJSON; memory per worker.

    .venv/bin/python bench/serve.py [--rallies 10000] [--seconds 4] [--connections 8]

Only 127.0.0.1 is contacted; every loop is bounded in time.
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers=headers or {})
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, dict(answer.getheaders()), body


def throughput(
    port: int, path: str, seconds: float, connections: int, headers: dict | None = None
) -> tuple[float, float, int]:
    """Requests a second, p99 latency in ms and errors, over keep-alive connections."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    return len(latencies) / elapsed, p99, errors[0]


def worker_memory(master_pid: int) -> list[int]:
    """Resident memory of each gunicorn worker (KiB), from /proc."""
    sizes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{master_pid}$", status, re.M):
            sizes.append(int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1)))
    return sizes


def naive_folium_page_ms(database_url: str, repeat: int = 3) -> float:
    """The map as folium's tutorials make it: one Marker with a Popup a rally, every request."""
    import folium
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT title, lat, lon FROM rally")).all()
    engine.dispose()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fmap = folium.Map(location=(53.7, 27.9), zoom_start=6, tiles=None)
        for title, lat, lon in rows:
            folium.Marker((lat, lon), popup=folium.Popup(title)).add_to(fmap)
        fmap.get_root().render()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rallies", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        env = {
            **os.environ,
            "MAPAPP_DATABASE_URL": database_url,
            "MAPAPP_SECRET_KEY": "bench",
            "MAPAPP_DEVELOPMENT": "1",
            "WEB_CONCURRENCY": str(args.workers),
        }
        env.pop("MAPAPP_REDIS_URL", None)
        flask = [str(BIN / "flask"), "--app", "mapapp"]
        subprocess.run([*flask, "init-db"], env=env, check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [*flask, "demo-data", "--count", str(args.rallies), "--seed", "1"],
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(  # noqa: S603
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "mapapp:create_app()"],
            env={**env, "PORT": str(port)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if get(port, "/healthz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            run(args, port, server.pid, env, flask, database_url)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run(args, port: int, master_pid: int, env: dict, flask: list[str], database_url: str) -> None:  # noqa: ANN001
    gz = {"Accept-Encoding": "gzip"}
    feed = "/api/rallies.geojson?when=all"
    # Warm every worker's caches before measuring.
    for _ in range(2 * args.workers):
        for path in ("/", "/embed", "/rallies", feed, "/rallies.ics?when=all", "/rallies.csv"):
            get(port, path, gz)
    status, headers, body = get(port, feed, gz)
    etag = headers.get("ETag")
    plain = get(port, feed)[2]

    print(
        f"{args.rallies} rallies, {args.workers} gunicorn workers, {args.connections} connections"
    )
    print(f"GeoJSON: {len(plain) / 1024:.0f} KiB, gzipped {len(body) / 1024:.0f} KiB, "
          f"{len(body) / args.rallies:.1f} B/rally")  # fmt: skip

    rows = [
        ("/healthz (baseline)", "/healthz", {}),
        ("/ (map page)", "/", gz),
        ("/embed", "/embed", gz),
        ("/rallies (list, page 1)", "/rallies", gz),
        ("GeoJSON when=all, gzip", feed, gz),
        ("GeoJSON 304 (If-None-Match)", feed, {**gz, "If-None-Match": etag or ""}),
        ("ICS when=all, gzip", "/rallies.ics?when=all", gz),
        ("CSV", "/rallies.csv", gz),
    ]
    baseline = None
    print(f"{'what':34} {'req/s':>8} {'p99 ms':>8} {'errors':>6} {'vs /healthz':>11}")
    for name, path, headers in rows:
        rate, p99, errors = throughput(port, path, args.seconds, args.connections, headers)
        baseline = baseline or rate
        print(f"{name:34} {rate:8.0f} {p99:8.1f} {errors:6d} {rate / baseline:10.2f}x")

    start = time.perf_counter()
    get(port, "/", gz)
    page_ms = (time.perf_counter() - start) * 1000
    naive_ms = naive_folium_page_ms(database_url.replace("sqlite:///", "sqlite:///"))
    print(f"map page {page_ms:.1f} ms vs naive folium page (markers inline) {naive_ms:.0f} ms: "
          f"{naive_ms / page_ms:.0f}x faster")  # fmt: skip

    # A change made by another process, then the first answer of this server.
    subprocess.run([*flask, "demo-data", "--count", "1", "--seed", "2"], env=env, check=True,  # noqa: S603
                   capture_output=True)  # fmt: skip
    for path, label in ((feed, "GeoJSON when=all"), ("/rallies.ics?when=all", "ICS when=all")):
        start = time.perf_counter()
        status, headers, body = get(port, path, gz)
        print(f"first {label} after a change in another process: "
              f"{(time.perf_counter() - start) * 1000:.0f} ms ({len(body) / 1024:.0f} KiB sent)")  # fmt: skip
    memory = worker_memory(master_pid)
    if memory:
        print(f"memory per worker: {', '.join(f'{kib / 1024:.0f} MiB' for kib in memory)}")


if __name__ == "__main__":
    main()
