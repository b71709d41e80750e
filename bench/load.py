"""The production stack under load, a worker killed, and slow clients: figures and ratios.

Starts, on a fresh SQLite file with 2,000 demo rallies (127.0.0.1 only):
- the baseline: gunicorn alone on a TCP port (gunicorn.conf.py, as the Procfile runs it);
- the stack of `make serve` (deploy/serve.py: nginx in front of gunicorn on a unix socket);
and measures on both, in this run:
1. C keep-alive connections for S seconds, alternating `/` and `/api/rallies.geojson`
   (gzip accepted, as a browser does): requests, errors, p50/p99/max latency;
2. the same load, with `/healthz` (never cached: every third request reaches a worker, so the
   killed one is busy) while one gunicorn worker is SIGKILLed: errors before the new worker
   answers and after;
3. 200 slow half-open connections (one header line every 3 s) while another client asks
   `/healthz` twice a second with a 1 s timeout.

    .venv/bin/python bench/load.py [--connections 64] [--seconds 30] [--rallies 2000] [--port 5150]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PATHS = ("/", "/api/rallies.geojson")


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)  # (time, what)
    started: float = 0.0
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies) or [float("nan")]
        return {
            "requests": len(self.latencies),
            "errors": len(self.errors),
            "rps": len(self.latencies) / self.seconds if self.seconds else 0.0,
            "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max_ms": 1000 * ordered[-1],
        }


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; return (status, connection kept open)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, chunked, keep = 0, False, True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep = False
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def connection_loop(
    port: int, run: Run, until: float, number: int, paths: tuple[str, ...] = PATHS
) -> None:
    reader = writer = None
    turn = number
    while time.monotonic() < until:
        path = paths[turn % len(paths)]
        turn += 1
        start = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                "Accept-Encoding: gzip\r\nAccept-Language: be\r\n\r\n"
            )
            writer.write(request.encode())
            status, keep = await asyncio.wait_for(read_response(reader), 30)
            if status >= 400:
                run.errors.append((start - run.started, f"HTTP {status}"))
            else:
                run.latencies.append(time.monotonic() - start)
            if not keep:
                writer.close()
                writer = None
        except (
            OSError,
            ConnectionError,
            asyncio.IncompleteReadError,
            TimeoutError,
            ValueError,
        ) as e:
            run.errors.append((start - run.started, type(e).__name__))
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


async def load(port: int, connections: int, seconds: float, paths: tuple[str, ...] = PATHS) -> Run:
    run = Run(started=time.monotonic(), seconds=seconds)
    until = run.started + seconds
    await asyncio.gather(*(connection_loop(port, run, until, n, paths) for n in range(connections)))
    return run


async def one_get(port: int, path: str, timeout: float) -> float | None:
    """Seconds a fresh connection takes to get `path` answered with 2xx, or None."""
    start = time.monotonic()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        left = timeout - (time.monotonic() - start)
        status, _ = await asyncio.wait_for(read_response(reader), max(left, 0.01))
        return time.monotonic() - start if status < 300 else None
    except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()


async def slow_client(port: int, until: float, opened: list[int]) -> None:
    """A half-open request: one header line every 3 s, reconnecting when dropped."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        opened[0] += 1
        try:
            writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\n".encode())
            while time.monotonic() < until:
                await writer.drain()
                await asyncio.sleep(3)
                writer.write(f"X-Slow-{secrets.token_hex(2)}: 1\r\n".encode())
        except OSError:
            pass
        finally:
            writer.close()


async def slow_clients(port: int, count: int, seconds: float) -> dict[str, float]:
    until = time.monotonic() + seconds
    opened = [0]
    clients = [asyncio.create_task(slow_client(port, until, opened)) for _ in range(count)]
    await asyncio.sleep(2)  # let them all connect and start holding
    answered: list[float] = []
    probes = 0
    while time.monotonic() < until - 1:
        probes += 1
        took = await one_get(port, "/healthz", 1.0)
        if took is not None:
            answered.append(took)
        await asyncio.sleep(0.5)
    await asyncio.gather(*clients, return_exceptions=True)
    return {
        "probes": probes,
        "answered_within_1s": len(answered),
        "max_ms": 1000 * max(answered) if answered else float("nan"),
        "connections_opened": opened[0],
    }


def wait_until_up(port: int, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if asyncio.run(one_get(port, "/healthz", 2)) is not None:
            return
        time.sleep(0.3)
    raise SystemExit(f"nothing answers on port {port}")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def kill_test(port: int, pidfile: Path, connections: int, seconds: float) -> dict[str, float]:
    """The load, with one worker SIGKILLed after a third of the time."""
    master = int(pidfile.read_text())
    before = worker_pids(master)
    result: dict[str, float] = {}

    async def scenario() -> Run:
        task = asyncio.create_task(load(port, connections, seconds, (*PATHS, "/healthz")))
        await asyncio.sleep(seconds / 3)
        victim = before[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        # The new worker: a child of the master that was not there before.
        while time.monotonic() - killed_at < seconds:
            now = set(worker_pids(master))
            if now - set(before):
                break
            await asyncio.sleep(0.05)
        result["respawn_s"] = time.monotonic() - killed_at
        run = await task
        result["killed_at_s"] = killed_at - run.started
        return run

    run = asyncio.run(scenario())
    respawned = result["killed_at_s"] + result["respawn_s"]
    result["errors_until_respawn"] = sum(1 for t, _ in run.errors if t < respawned + 1)
    result["errors_after_respawn"] = sum(1 for t, _ in run.errors if t >= respawned + 1)
    result["requests"] = len(run.latencies)
    result["p99_ms"] = run.summary()["p99_ms"]
    return result


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own commands


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def show(name: str, figures: dict[str, float]) -> None:
    print(f"  {name:<34}" + "  ".join(f"{k}={v:.4g}" for k, v in figures.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rallies", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--port", type=int, default=5150, help="the stack; the baseline +1")
    args = parser.parse_args()
    if not 1 <= args.connections <= 512 or not 1 <= args.seconds <= 300 or args.slow > 1000:
        raise SystemExit("at most 512 connections, 300 s and 1,000 slow clients")
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="mapapp-load-") as tmp:
        instance = Path(tmp)
        env = dict(os.environ)
        env.update(
            MAPAPP_DATABASE_URL=f"sqlite:///{instance / 'load.sqlite3'}",
            MAPAPP_SECRET_KEY=secrets.token_hex(32),
            MAPAPP_TILE_PROXY="0",
        )
        env.pop("MAPAPP_ACCESS_LOG", None)
        flask = [python, "-m", "flask", "--app", "mapapp"]
        subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [*flask, "demo-data", "--count", str(args.rallies), "--seed", "1"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        workers = env.get("WEB_CONCURRENCY") or str(len(os.sched_getaffinity(0)) + 1)
        print(
            f"{args.rallies} rallies, {args.connections} connections x {args.seconds:.0f} s, "
            f"gunicorn {workers} workers x {env.get('GUNICORN_THREADS', '4')} threads",
            flush=True,
        )

        figures: dict[str, dict[str, dict[str, float]]] = {}
        base_port = args.port + 1
        for name, command, port in (
            (
                "baseline (gunicorn alone)",
                [python, "-m", "gunicorn", "--bind", f"{HOST}:{base_port}", "--pid",
                 str(instance / "baseline.pid"), "mapapp:create_app()"],
                base_port,
            ),
            (
                "make serve (nginx + gunicorn)",
                [python, "deploy/serve.py", "--listen", f"{HOST}:{args.port}",
                 "--instance", str(instance / "serve")],
                args.port,
            ),
        ):  # fmt: skip
            process = start(command, env)
            try:
                wait_until_up(port)
                pidfile = (
                    instance / "baseline.pid"
                    if port == base_port
                    else instance / "serve" / "gunicorn.pid"
                )
                print(name, flush=True)
                asyncio.run(load(port, 8, 2))  # warm every worker's caches
                results = {
                    "load": asyncio.run(load(port, args.connections, args.seconds)).summary()
                }
                show("load", results["load"])
                results["kill"] = kill_test(port, pidfile, args.connections, args.seconds)
                show("one worker SIGKILLed", results["kill"])
                wait_until_up(port)
                results["slow"] = asyncio.run(slow_clients(port, args.slow, 20))
                show(f"{args.slow} slow clients, /healthz", results["slow"])
                figures[name] = results
            finally:
                stop(process)

        base, stack = figures.values()
        print("ratios (make serve / baseline)")
        for part, key in (
            ("load", "p99_ms"),
            ("load", "rps"),
            ("load", "errors"),
            ("kill", "errors_until_respawn"),
            ("slow", "answered_within_1s"),
        ):
            a, b = stack[part][key], base[part][key]
            ratio = f"{a / b:.2f}" if b else ("1.00" if a == b else "inf")
            print(f"  {part}.{key}: {a:.4g} / {b:.4g} = {ratio}")
        ok = (
            stack["load"]["errors"] == 0
            and stack["load"]["p99_ms"] <= 250
            and stack["kill"]["errors_after_respawn"] == 0
            and stack["kill"]["errors_until_respawn"] <= int(env.get("GUNICORN_THREADS", "4"))
            and stack["slow"]["answered_within_1s"] == stack["slow"]["probes"]
        )
        print("targets (0 errors, p99 <= 250 ms, kill errors <= threads, /healthz < 1 s):",
              "met" if ok else "NOT met")  # fmt: skip


if __name__ == "__main__":
    main()
