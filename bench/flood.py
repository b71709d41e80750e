"""One client floods the costly routes through `make serve`: do other visitors notice?

Starts the stack of `make serve` (deploy/serve.py: nginx in front of gunicorn, default
settings) on a fresh SQLite file with demo rallies, then alternates rounds of two kinds:
- quiet: a visitor (from 127.0.0.1) asks `/healthz` and a popup (`/api/rallies/<id>`, with a
  cookie so that nginx's micro-cache does not answer it: every one reaches a worker), one
  request after another, for S seconds;
- attacked: the same visitor, while one client (another process, from 127.0.0.2, so the
  limits see two clients) sends C requests at a time, without pause, to the costly routes
  with new query strings or ids each time: share images, `/offline.html?from=<random date>`,
  the feeds (GeoJSON, iCalendar, CSV, Atom) with random dates, `/api/geocode?q=<random>`.
Per round the visitor's p95 of each route; printed: the median over rounds of each kind, the
ratio attacked / quiet, what the attacker got (statuses, requests a second) and the target
(`/healthz` and the popup under 100 ms p95 while attacked).

With `--compare`, a second stack (another port, the same database) runs deploy/nginx.conf
without its per-client limits (`limit_req`, `limit_conn`), and its rounds alternate with the
first's: the same figures, and the ratio with / without the limits in one run.

    .venv/bin/python bench/flood.py [--rounds 3] [--seconds 10] [--connections 8] [--rallies 500]
        [--compare]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ATTACKER = "127.0.0.2"  # another address on the loopback: the limits count it apart
WORDS = ("плошча", "вуліца", "парк", "Мінск", "Гомель", "Брэст", "сквер", "praspiekt", "hrodna")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def costly_path(rng: random.Random, ids: list[int]) -> str:
    """A costly request no cache holds yet: a new date, id, language or word each time."""
    day = date(2027, 1, 1) + timedelta(days=rng.randrange(3000))
    kind = rng.randrange(6)
    if kind == 0:
        return f"/share/rallies/{rng.choice(ids)}-{rng.choice(('be', 'ru', 'en'))}.png"
    if kind == 1:
        return f"/offline.html?from={day.isoformat()}"
    if kind == 2:
        return f"/api/rallies.geojson?from={day.isoformat()}"
    if kind == 3:
        feed = rng.choice(("rallies.ics", "rallies.csv", "rallies.atom"))
        return f"/{feed}?from={day.isoformat()}"
    if kind == 4:
        return f"/rallies?from={day.isoformat()}&when=all"
    word = rng.choice(WORDS) + str(rng.randrange(10**6))
    return f"/api/geocode?q={quote(word)}"


def attacker(port: int, connections: int, ids: list[int], stop_at: float, out) -> None:  # noqa: ANN001
    """C keep-alive connections from ATTACKER, each asking costly paths without pause."""
    statuses: Counter = Counter()
    lock = threading.Lock()

    def one(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - load, not secrets
        conn = None
        while time.monotonic() < stop_at:
            if conn is None:
                conn = http.client.HTTPConnection(
                    HOST, port, timeout=30, source_address=(ATTACKER, 0)
                )
            try:
                conn.request("GET", costly_path(rng, ids), headers={"Accept-Encoding": "gzip"})
                answer = conn.getresponse()
                answer.read()
                status = str(answer.status)
                if answer.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                conn.close()
                conn = None
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=one, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    used = os.times()
    # The attacker's own CPU (it shares the machine's CPUs with the stack here): a key
    # "cpu_s" beside the statuses.
    out.put({**statuses, "cpu_s": round(used.user + used.system, 1)})


def visitor(port: int, paths: dict[str, str], seconds: float) -> dict[str, list[float]]:
    """One visitor's requests, one after another, alternating the paths: latencies (s)."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        for name, path in paths.items():
            started = time.perf_counter()
            # A cookie: nginx's micro-cache is passed, the request reaches a worker.
            conn.request("GET", path, headers={"Cookie": "visitor=1"})
            answer = conn.getresponse()
            answer.read()
            times[name].append(time.perf_counter() - started)
            if answer.status != 200:
                raise SystemExit(f"the visitor got {answer.status} for {path}")
            time.sleep(0.02)  # a visitor, not a second attacker
    conn.close()
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def wait_until_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the stack stopped while starting")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the stack did not answer within 120 s")


# Runs deploy/serve.py with its nginx template replaced (the `--compare` stack).
SERVE_WITH_TEMPLATE = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("serve", "deploy/serve.py")
serve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(serve)
serve.TEMPLATE = Path(sys.argv[1])
sys.exit(serve.main(sys.argv[2:]))
"""
# nginx's per-client limits in deploy/nginx.conf's locations (the zones may stay, unused).
LIMIT_LINE = re.compile(r"^\s*(limit_req zone=|limit_conn mapapp_)[^\n]*\n", re.MULTILINE)


def start_stack(
    instance: Path, port: int, env: dict[str, str], with_limits: bool
) -> subprocess.Popen:
    """make serve's stack on `port`; without nginx's per-client limits when asked."""
    command = [sys.executable, "deploy/serve.py"]
    if not with_limits:
        template = instance.with_suffix(".nginx.conf")
        template.write_text(LIMIT_LINE.sub("", (ROOT / "deploy" / "nginx.conf").read_text()))
        command = [sys.executable, "-c", SERVE_WITH_TEMPLATE, str(template)]
    return subprocess.Popen(  # noqa: S603 - our own script
        [*command, "--listen", f"{HOST}:{port}", "--instance", str(instance)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL if not os.environ.get("BENCH_VERBOSE") else None,
    )


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def one_round(
    port: int, kind: str, paths: dict[str, str], ids: list[int], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """The visitor's latencies for S seconds, quiet or attacked; the attacker's statuses."""
    if kind == "quiet":
        return visitor(port, paths, args.seconds), {}
    out = multiprocessing.Queue()
    stop_at = time.monotonic() + args.seconds + 1
    flood = multiprocessing.Process(
        target=attacker, args=(port, args.connections, ids, stop_at, out)
    )
    flood.start()
    time.sleep(1)  # the flood under way
    times = visitor(port, paths, args.seconds)
    statuses = out.get(timeout=120)
    flood.join()
    return times, statuses


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind, alternated")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8, help="the attacker's, at once")
    parser.add_argument("--rallies", type=int, default=500)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also a stack without nginx's per-client limits, its rounds alternated with the other's",
    )
    args = parser.parse_args()
    if (
        not 1 <= args.rounds <= 20
        or not 1 <= args.seconds <= 120
        or not 1 <= args.connections <= 64
    ):
        raise SystemExit("at most 20 rounds, 120 s and 64 connections")
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="mapapp-flood-") as tmp:
        instance = Path(tmp)
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("MAPAPP_") or name == "MAPAPP_REDIS_URL"
        }
        env.update(
            MAPAPP_DATABASE_URL=f"sqlite:///{instance / 'flood.sqlite3'}",
            MAPAPP_SECRET_KEY=secrets.token_hex(32),
            MAPAPP_TILE_PROXY="0",
        )
        flask = [python, "-m", "flask", "--app", "mapapp"]
        subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [*flask, "demo-data", "--count", str(args.rallies), "--seed", "1"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        stacks: dict[str, tuple[int, subprocess.Popen]] = {}
        try:
            names = ["nginx limits", "no nginx limits"] if args.compare else ["nginx limits"]
            for name in names:
                port = free_port()
                process = start_stack(
                    instance / name.replace(" ", "-"), port, env, name == "nginx limits"
                )
                stacks[name] = (port, process)
                wait_until_up(port, process)
            port = stacks["nginx limits"][0]
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            conn.request("GET", "/api/rallies.geojson?when=all")
            ids = [f["id"] for f in json.loads(conn.getresponse().read())["features"]]
            paths = {"/healthz": "/healthz", "popup": f"/api/rallies/{ids[len(ids) // 2]}"}
            for port, _ in stacks.values():
                visitor(port, paths, 2)  # every worker warm
            workers = env.get("WEB_CONCURRENCY") or str(len(os.sched_getaffinity(0)) + 1)
            print(
                f"{args.rallies} rallies, {args.rounds} x ({args.seconds:.0f} s quiet, "
                f"{args.seconds:.0f} s attacked by {args.connections} connections) on "
                f"{' and '.join(stacks)}, gunicorn {workers} workers, {os.cpu_count()} CPUs",
                flush=True,
            )
            figures = {
                (stack, kind): {n: [] for n in paths}
                for stack in stacks
                for kind in ("quiet", "attacked")
            }
            served: dict[str, Counter] = {stack: Counter() for stack in stacks}
            for number in range(args.rounds):
                order = [(stack, kind) for stack in stacks for kind in ("quiet", "attacked")]
                for stack, kind in order if number % 2 == 0 else order[::-1]:
                    times, statuses = one_round(stacks[stack][0], kind, paths, ids, args)
                    cpu = statuses.pop("cpu_s", None)
                    served[stack].update(statuses)
                    line = "  ".join(
                        f"{name} p95={p95(values):.1f} ms (n={len(values)})"
                        for name, values in times.items()
                    )
                    if statuses:
                        total = sum(statuses.values())
                        line += f"  attacker's own CPU {cpu} s;"
                        line += f"  attacker: {total / args.seconds:.0f} req/s {dict(sorted(statuses.items()))}"
                    print(f"round {number + 1} {stack:<15} {kind:<8} {line}", flush=True)
                    for name, values in times.items():
                        figures[stack, kind][name].append(p95(values))
            print("medians over rounds (p95, ms) and ratio attacked / quiet:")
            met = True
            medians = {
                key: {name: statistics.median(values) for name, values in by_path.items()}
                for key, by_path in figures.items()
            }
            for stack in stacks:
                for name in paths:
                    quiet = medians[stack, "quiet"][name]
                    attacked = medians[stack, "attacked"][name]
                    if stack == "nginx limits":
                        met = met and attacked < 100
                    print(f"  {stack:<15} {name:<8} quiet {quiet:7.1f}  attacked {attacked:7.1f}  "
                          f"ratio {attacked / quiet:.2f}")  # fmt: skip
                print(f"  {stack:<15} attacker's answers: {dict(sorted(served[stack].items()))}")
            if args.compare:
                for name in paths:
                    with_limits = medians["nginx limits", "attacked"][name]
                    without = medians["no nginx limits", "attacked"][name]
                    print(f"  attacked, with / without nginx's limits, {name}: "
                          f"{with_limits:.1f} / {without:.1f} = {with_limits / without:.2f}")  # fmt: skip
            print("target (/healthz and the popup under 100 ms p95 while attacked, with limits):",
                  "met" if met else "NOT met")  # fmt: skip
        finally:
            for _, process in stacks.values():
                stop(process)


if __name__ == "__main__":
    main()
