"""`make serve` for real: Debian's nginx in front of gunicorn (deploy/serve.py, deploy/nginx.conf)."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRICT = os.environ.get("MAPAPP_TEST_STRICT") == "1"
MINISIGN = shutil.which("minisign") or "/usr/bin/minisign"


def free_port() -> int:
    """A free port, from 5150-5169 first (the range this machine gives these tests)."""
    for port in [*range(5160, 5170), 0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def get(url: str, timeout: float = 10, headers: dict[str, str] | None = None):  # noqa: ANN201
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Stack:
    def __init__(self, process: subprocess.Popen, base: str, instance: Path, log: Path) -> None:
        self.process, self.base, self.instance, self.log = process, base, instance, log

    def master_pid(self) -> int:
        return int((self.instance / "gunicorn.pid").read_text())


@pytest.fixture
def stack(tmp_path: Path):  # noqa: ANN201
    yield from run_stack(tmp_path, serve_env(tmp_path))


@pytest.fixture
def signed_stack(tmp_path: Path):  # noqa: ANN201
    from mapapp.publishing.signing import load_key, new_secret

    secret = new_secret()
    env = serve_env(tmp_path, MAPAPP_SIGNING_KEY=secret)
    public_key = tmp_path / "signing.pub"
    public_key.write_text(f"untrusted comment: test\n{load_key(secret).public_key_base64()}\n")
    for stack in run_stack(tmp_path, env):
        yield stack, env, public_key


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MAPAPP_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        MAPAPP_SECRET_KEY="test-secret-key-for-the-serve-test",
        MAPAPP_TILE_PROXY="0",
        MAPAPP_ACCESS_LOG="1",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        **extra,
    )
    return env


def run_stack(tmp_path: Path, env: dict[str, str]):  # noqa: ANN201
    """make serve's stack (deploy/serve.py) on a free port, yielded once it answers."""
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        if STRICT:
            pytest.fail("nginx is not installed (apt-get install nginx-light)")
        pytest.skip("nginx is not installed")
    flask = [sys.executable, "-m", "flask", "--app", "mapapp"]
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    instance = tmp_path / "instance"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "deploy/serve.py", "--listen", f"127.0.0.1:{port}"]
            + ["--instance", str(instance)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if get(base + "/healthz", 2)[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)
    yield Stack(process, base, instance, log)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not alive.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "\nState:\tZ" not in status.read_text()


def slow_client(port: int, stop: threading.Event, opened: list[socket.socket]) -> None:
    """A request whose header never ends: a line every 2 s (slowloris)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    opened.append(conn)
    try:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while not stop.wait(2):
            conn.sendall(b"X-Slow: 1\r\n")
    except OSError:
        pass


def test_stack_serves_holds_slow_clients_and_stops_on_sigterm(stack: Stack) -> None:
    # Pages and the feed come through nginx.
    status, headers, body = get(stack.base + "/")
    assert status == 200 and headers["Server"] == "nginx"
    assert b"leaflet" in body.lower()
    status, headers, body = get(stack.base + "/api/rallies.geojson")
    assert status == 200 and b"FeatureCollection" in body
    # The feed is micro-cached for everyone without a cookie; a moderator's cookie bypasses it.
    assert get(stack.base + "/api/rallies.geojson")[1]["X-Cache"] == "HIT"
    with_cookie = get(stack.base + "/api/rallies.geojson", headers={"Cookie": "session=x"})
    assert with_cookie[1]["X-Cache"] == "BYPASS"
    # Pages are micro-cached too, one copy per language and encoding (Vary): a reader never
    # gets another's variant, and a cookie (a moderator, a form) goes past the cache.
    for _ in range(2):
        ru = get(stack.base + "/", headers={"Accept-Language": "ru", "Accept-Encoding": "gzip"})
        en = get(stack.base + "/", headers={"Accept-Language": "en"})
    assert ru[1]["X-Cache"] == en[1]["X-Cache"] == "HIT"
    assert ru[1]["Content-Encoding"] == "gzip" and b'<html lang="ru">' in gzip.decompress(ru[2])
    assert "Content-Encoding" not in en[1] and b'<html lang="en">' in en[2]
    moderator = get(stack.base + "/", headers={"Accept-Language": "ru", "Cookie": "session=x"})
    assert moderator[1]["X-Cache"] == "BYPASS" and "Content-Encoding" not in moderator[1]
    # A client's X-Forwarded-Prefix never reaches the app (it trusts one hop's): otherwise its
    # links, cached, would send everyone to the attacker's host.
    for path in ("/rallies?poison=1", "/rallies?poison=1"):
        poisoned = get(stack.base + path, headers={"X-Forwarded-Prefix": "//attacker.example"})
        assert poisoned[0] == 200 and b"attacker.example" not in poisoned[2]
    # Fingerprinted files are served from nginx's cache after the first time.
    page = get(stack.base + "/")[2].decode()
    asset = next(part for part in page.split('"') if part.startswith("/vendor/leaflet/"))
    assert get(stack.base + asset)[0] == 200
    assert get(stack.base + asset)[1]["X-Cache"] == "HIT"
    # So are the map's modules, fingerprinted by their directory (no ?v=).
    entry = next(part for part in page.split('"') if part.startswith("/static/map/"))
    assert entry.endswith("/map.js")  # the modules joined
    feed = entry.replace("map.js", "feed.js")
    assert get(stack.base + feed)[0] == 200
    assert get(stack.base + feed)[1]["X-Cache"] == "HIT"
    assert get(stack.base + "/static/app.css")[1]["X-Cache"] == "BYPASS"  # unversioned
    # Another Host is refused before it reaches the app or a cache key.
    assert get(stack.base + "/", headers={"Host": "attacker.example"})[0] == 421

    # 100 slow half-open connections do not stop anyone else.
    port = int(stack.base.rsplit(":", 1)[1])
    stop, opened = threading.Event(), []
    slow = [
        threading.Thread(target=slow_client, args=(port, stop, opened), daemon=True)
        for _ in range(100)
    ]
    for thread in slow:
        thread.start()
    time.sleep(3)
    try:
        for _ in range(5):
            start = time.monotonic()
            assert get(stack.base + "/healthz", timeout=1)[0] == 200
            assert time.monotonic() - start < 1
            time.sleep(0.5)
    finally:
        stop.set()
        for conn in opened:
            conn.close()

    # A worker killed: nginx retries GETs on another one, nobody sees an error.
    master = stack.master_pid()
    workers = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    os.kill(int(workers[0]), signal.SIGKILL)
    statuses = [get(stack.base + "/api/rallies.geojson?when=all")[0] for _ in range(10)]
    assert statuses == [200] * 10

    # SIGTERM stops nginx and gunicorn (master and workers).
    nginx_pid = int((stack.instance / "nginx" / "nginx.pid").read_text())
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(120) == 0
    assert not alive(master) and not alive(nginx_pid)
    assert not (stack.instance / "gunicorn.pid").exists()
    with pytest.raises(OSError):
        get(stack.base + "/healthz", timeout=2)

    # No client address in any log line (gunicorn's access log was on).
    lines = stack.log.read_text().splitlines()
    assert any('"GET /healthz' in line or "GET /healthz" in line for line in lines), lines
    assert [line for line in lines if "127.0.0.1" in line and "Serving on" not in line] == []


def test_a_feed_and_its_signature_agree_soon_after_a_change(tmp_path: Path, signed_stack) -> None:
    """nginx keeps a feed a second at most: after a change the feed it serves and the
    signature (never kept) verify together within a few seconds, not after max-age (30 s)."""
    stack, env, public_key = signed_stack
    path = "/api/rallies.geojson?when=all"
    assert get(stack.base + path)[1]["X-Cache"] in ("MISS", "EXPIRED")
    assert get(stack.base + path)[1]["X-Cache"] == "HIT"  # the old document is now kept
    flask = [sys.executable, "-m", "flask", "--app", "mapapp"]
    subprocess.run([*flask, "demo-data", "--count", "1"], cwd=ROOT, env=env, check=True)
    deadline = time.monotonic() + 8
    while True:
        document = get(stack.base + path)[2]
        signature = get(stack.base + path.replace(".geojson", ".geojson.minisig"))[2]
        (tmp_path / "feed.geojson").write_bytes(document)
        (tmp_path / "feed.geojson.minisig").write_bytes(signature)
        checked = subprocess.run(  # noqa: S603 - our own arguments
            [MINISIGN, "-Vm", str(tmp_path / "feed.geojson"), "-p", str(public_key)],
            capture_output=True,
            check=False,
        )
        if checked.returncode == 0 and len(json.loads(document)["features"]) > 13:
            break
        assert time.monotonic() < deadline, "the feed and its signature still disagree"
        time.sleep(0.5)


# A rally whose place is revealed REVEAL_IN seconds from now, from outside the stack.
ADD_STAGED = """
import sys
from datetime import UTC, datetime, timedelta
from mapapp import create_app
from mapapp.domain import db, lifecycle
reveal = datetime.now(UTC) + timedelta(seconds=float(sys.argv[1]))
values = {"title": "Пікет", "description": "", "town": "Гродна", "place": "Плошча Савецкая",
          "region": "BY-HR", "lat": 53.6784, "lon": 23.8297,
          "starts_at": reveal + timedelta(hours=2), "reveal_at": reveal}
with create_app().app_context():
    lifecycle.create(db.session(write=True), values, True, actor="test")
print(reveal.timestamp())
"""


def test_nginx_never_gives_a_feed_a_max_age_past_a_reveal(stack: Stack, tmp_path: Path) -> None:
    """Through nginx's micro-cache, a feed's max-age never runs past the next reveal time by
    more than the second nginx keeps it: nginx revalidated its copy with the ETag and, on the
    app's 304, served it with the headers it had stored (max-age counted from then: a reveal
    reached browsers up to 30 s late)."""
    env = serve_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", ADD_STAGED, "14"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    reveal = float(done.stdout.decode().split()[-1])
    path = stack.base + "/api/rallies.geojson?fields=map&lang=be"
    seen = []
    while time.time() < reveal - 3:
        status, headers, _ = get(path)
        assert status == 200
        max_age = int(re.search(r"max-age=(\d+)", headers["Cache-Control"]).group(1))
        seen.append((headers.get("X-Cache"), max_age))
        # A browser keeps it until now + max-age: at most a second (nginx's) past the reveal.
        assert time.time() + max_age <= reveal + 2, seen
        time.sleep(1.6)
    assert len(seen) >= 4, seen


# A moderator's "danger" on the first seed rally, from outside the stack (as another worker).
SET_DANGER = """
from mapapp import create_app
from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally
app = create_app()
with app.app_context():
    session = db.session(write=True)
    lifecycle.perform(session, session.get(Rally, 1), "moderator:test", "danger")
"""


def test_nginx_keeps_each_language_serves_no_old_copy_and_takes_long_addresses(
    stack: Stack, tmp_path: Path
) -> None:
    env = serve_env(tmp_path)
    page, feed = stack.base + "/rallies/1", stack.base + "/rallies/1.ics"
    listing = stack.base + "/rallies?lang=en"
    for url in (page, page, feed, feed, listing, listing):  # now kept by nginx
        assert get(url)[0] == 200
    assert b"banner-danger" not in get(page)[2] and b"badge-danger" not in get(listing)[2]
    subprocess.run([sys.executable, "-c", SET_DANGER], cwd=ROOT, env=env, check=True)
    time.sleep(2.5)  # past what nginx keeps a page (2 s) and a feed (1 s)
    # The first reader after a quiet spell gets the new page, not the kept one (nginx's
    # background update gave the old copy, however old, to whoever came first).
    status, headers, body = get(page)
    assert b"banner-danger" in body, headers.get("X-Cache")
    # The list too: nginx kept it as long as the app's max-age (30 s) before.
    status, headers, body = get(listing)
    assert b"badge-danger" in body, headers.get("X-Cache")
    # Each language its own calendar, one right after the other, through the micro-cache.
    warnings = {
        "ru": "Опасность: на месте милиция",
        "en": "Danger: police are at the place",
        "be": "Небяспека: на месцы міліцыя",
    }
    for _ in range(2):
        for lang, warning in warnings.items():
            status, headers, body = get(feed, headers={"Accept-Language": lang})
            assert status == 200 and warning in body.decode().replace("\r\n ", ""), lang
    # A long query string is answered, not a 502: nginx put the cache key (the whole address)
    # and the answer's headers in one 4 KB buffer; keys of about 2.9 to 3.4 KB left too little
    # room (longer ones are not cached at all).
    long_query = "?when=all&" + "x" * 3100
    for path in ("/", "/rallies", "/api/rallies.geojson", "/rallies.ics"):
        assert get(stack.base + path + long_query)[0] == 200, path


def test_nginx_keeps_no_visitors_query_or_cached_page_on_the_disk(stack: Stack) -> None:
    """A search's words and a town filter reach nginx's micro-cache (its keys and the pages
    echoing them): kept in memory only, never under the instance directory, and gone at stop."""
    marker = "%D0%A8%D1%83%D0%BA%D0%B0%D1%8E%20SEARCHWORD"
    url = f"{stack.base}/rallies?q={marker}&city=TOWNWORD"
    statuses = [get(url)[1].get("X-Cache") for _ in range(2)]
    assert statuses[-1] == "HIT", statuses  # kept by nginx, so the check below means something
    on_disk = [
        str(path)
        for path in stack.instance.rglob("*")
        if path.is_file()
        and (b"SEARCHWORD" in path.read_bytes() or b"TOWNWORD" in path.read_bytes())
    ]
    assert on_disk == []
    conf = (stack.instance / "nginx" / "nginx.conf").read_text()
    volatile = Path(conf.split("proxy_cache_path ")[2].split()[0]).parent.parent
    assert str(volatile).startswith("/dev/shm/") and volatile.stat().st_mode & 0o077 == 0
    stack.process.send_signal(signal.SIGTERM)
    stack.process.wait(60)
    assert not volatile.exists()


def test_nginx_keeps_tiles_that_browsers_never_keep(tmp_path: Path) -> None:
    """Tiles are `no-store` for browsers ("near me": a phone's cache would show where its owner
    was), yet nginx keeps them (the app's X-Accel-Expires, not passed on); a grey tile that
    stands in for an unreachable tile server is kept by neither."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mapapp.web.tiles import GREY_TILE

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(GREY_TILE)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = serve_env(
        tmp_path, MAPAPP_TILE_URL=f"http://127.0.0.1:{server.server_port}/{{z}}/{{x}}/{{y}}.png"
    )
    env["MAPAPP_TILE_PROXY"] = "1"
    try:
        for stack in run_stack(tmp_path, env):
            answers = [get(stack.base + "/tiles/8/149/83.png") for _ in range(2)]
            assert [a[0] for a in answers] == [200, 200]
            assert [a[1].get("X-Cache") for a in answers] == ["MISS", "HIT"]
            assert all(a[1]["Cache-Control"] == "no-store" for a in answers)
            assert not [a for a in answers if "X-Accel-Expires" in a[1]]
            assert hits == ["/8/149/83.png"]
            server.shutdown()  # the tile server is gone: grey tiles, kept nowhere
            server.server_close()
            grey = [get(stack.base + "/tiles/8/150/83.png") for _ in range(2)]
            assert [g[1].get("X-Cache") for g in grey] == ["MISS", "MISS"]
            assert all(g[1]["Cache-Control"] == "no-store" for g in grey)
    finally:
        server.server_close()
