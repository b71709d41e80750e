"""The production stack in the foreground: nginx on a TCP port in front of gunicorn on a unix socket.

    python deploy/serve.py [--listen 127.0.0.1:8000] [--server-names "map.example"] [--instance DIR]

`make serve` runs it. gunicorn reads gunicorn.conf.py (workers, threads) and the same MAPAPP_*
environment as ever; its master's pid goes to INSTANCE/gunicorn.pid. nginx gets its own prefix
under INSTANCE/nginx (config filled in from deploy/nginx.conf, temp and cache directories), so it
writes nothing under /etc or /var and runs as root or not. SIGTERM or SIGINT stops both; when
either dies, the other is stopped too and the exit status is non-zero. nginx's error lines go to
stderr without the client address, the query string, the Referer or any path segment that is
not a route's own word (a token, an id, a typed place): see scrub().
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf"
NGINX_DIRS = ("fastcgi", "uwsgi", "scgi", "cache/assets")
# What holds visitors' requests and the answers to them (form bodies, the micro-cache whose keys
# and pages carry query strings: a typed search, a town filter): in memory, never on the disk.
VOLATILE_DIRS = ("body", "proxy", "cache/feeds")
MEMORY = Path("/dev/shm")  # noqa: S108 - ours made with mkdir(0o700), which fails if it exists
# nginx adds "client: <address>", "request: "<line>"", "upstream: "<url>"", "host: "<name>""
# and "referrer: "<url>"" to error lines about a request: the address, the query string (a typed
# place in /api/geocode?q=), a manage token (in the path, or in the Referer of a manage page).
CLIENT_IN_LOG = re.compile(r"client: [^,]+")
QUOTED = r'"(?:[^"\\]|\\.)*"'
REQUEST_IN_LOG = re.compile(rf"request: {QUOTED}")
REFERRER_IN_LOG = re.compile(rf", referrer: {QUOTED}")
UPSTREAM_IN_LOG = re.compile(rf"upstream: {QUOTED}")
HOST_IN_LOG = re.compile(rf"host: {QUOTED}")
QUERY = re.compile(r"\?[^\s\",]*")
# A path segment kept in a log line: a route's own words (manage, api, geocode, rallies.ics);
# ids, tokens, percent-encoded or non-ASCII text (a typed place) become "…".
PLAIN_SEGMENT = re.compile(r"[a-z][a-z._-]{0,23}")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        sys.exit("nginx is not installed: apt-get install nginx-light (or nginx).")
    return found


def volatile_dir(instance: Path, memory: Path = MEMORY) -> Path:
    """Where nginx keeps visitors' requests and cached answers: a directory of this instance's
    own in memory (/dev/shm/mapapp-<hash of the instance path>, mode 0700); INSTANCE/nginx
    when the machine has no /dev/shm (serve.py then warns)."""
    if not (memory.is_dir() and os.access(memory, os.W_OK)):
        return instance / "nginx"
    digest = hashlib.sha256(str(instance).encode()).hexdigest()[:16]
    return memory / f"mapapp-{os.geteuid()}-{digest}"


def render_config(
    listen: str,
    server_names: str,
    public_host: str,
    prefix: Path,
    socket: Path,
    volatile: Path | None = None,
) -> str:
    """deploy/nginx.conf with its @NAMES@ filled in (volatile: see volatile_dir; prefix if None)."""
    values = {
        "VOLATILE": str(volatile or prefix),
        "USER_LINE": "user root;" if os.geteuid() == 0 else "",
        "NGINX_WORKERS": "auto",
        "PREFIX": str(prefix),
        "SOCKET": str(socket),
        "LISTEN": listen,
        "SERVER_NAMES": server_names,
        "PUBLIC_HOST": public_host,
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    if "@" in re.sub(r"#.*", "", text):
        raise SystemExit("deploy/nginx.conf has a placeholder serve.py does not fill in")
    return text


def _request(match: re.Match) -> str:
    parts = match.group(0)[len('request: "') : -1].split(" ")
    method = parts[0] if re.fullmatch(r"[A-Z]{1,16}", parts[0]) else "-"
    path = parts[1].split("?", 1)[0] if len(parts) > 1 else ""
    segments = [s if PLAIN_SEGMENT.fullmatch(s) else "…" for s in path.split("/")[1:]]
    return f'request: "{method} /{"/".join(segments)}"'


def scrub(line: str) -> str:
    """An nginx error line without address, query, token, typed place or Referer."""
    line = CLIENT_IN_LOG.sub("client: -", line)
    line = REQUEST_IN_LOG.sub(_request, line)
    line = REFERRER_IN_LOG.sub("", line)
    line = UPSTREAM_IN_LOG.sub('upstream: "-"', line)
    line = HOST_IN_LOG.sub('host: "-"', line)
    return QUERY.sub("", line)


def copy_stderr(stream, output) -> None:  # noqa: ANN001
    """Pass nginx's error lines on without address, query string, token or Referer."""
    for line in stream:
        output.write(scrub(line))
        output.flush()


def gunicorn_has(setting: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(known.name == setting for known in KNOWN_SETTINGS)


def wait_for(path: Path, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {process.returncode} before starting")
        if time.monotonic() > deadline:
            raise SystemExit(f"gunicorn did not create {path} within {seconds:.0f} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen, how: int, seconds: float = 20) -> None:
    if process.poll() is not None:
        return
    process.send_signal(how)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def site_address(listen: str, server_names: str) -> str:
    """The address to open: nginx answers 421 to a name it was not given, so it is the first
    declared name (with the port), not the address it listens on (0.0.0.0 or 127.0.0.1)."""
    host, port = listen.rsplit(":", 1)
    names = server_names.split()
    name = names[0] if names and not names[0].startswith(("~", "*", "_")) else host
    return f"http://{name}{'' if port == '80' else ':' + port}/"


def start_warnings(environ: dict[str, str] | os._Environ) -> list[str]:
    """Settings that will break the site, said before the first visitor finds out."""
    if environ.get("MAPAPP_DEVELOPMENT") in ("1", "true", "yes"):
        return []
    warnings = []
    base = environ.get("MAPAPP_BASE_URL", "")
    host = base.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if base.startswith("http://") and not host.endswith(".onion"):
        warnings.append(
            f"MAPAPP_BASE_URL is {base}, not https://: the session cookie is Secure, so browsers "
            "drop it over plain HTTP and every form and the moderators' log-in fail. Put HTTPS "
            "in front (a TLS proxy or CDN) and set an https:// address."
        )
    if not environ.get("MAPAPP_CONTACT_KEY", "").strip():
        warnings.append(
            "MAPAPP_CONTACT_KEY is not set: organizers cannot leave a contact, and a moderator's "
            "first log-in stops at setting up the second factor (its secret is kept encrypted "
            "with that key). `flask --app mapapp new-contact-key` makes one (docs/operators.md)."
        )
    return warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    port = os.environ.get("PORT", "8000")
    parser.add_argument("--listen", default=f"127.0.0.1:{port}", help="nginx's address:port")
    parser.add_argument(
        "--server-names",
        default=os.environ.get("SERVER_NAMES", "127.0.0.1 localhost"),
        help="host names the site answers to (others get 421)",
    )
    parser.add_argument(
        "--public-host", default=None, help="Host the app sees (default: first name and port)"
    )
    parser.add_argument("--instance", type=Path, default=ROOT / "instance")
    args = parser.parse_args(argv)

    instance = args.instance.resolve()
    prefix = instance / "nginx"
    for name in NGINX_DIRS:
        (prefix / name).mkdir(parents=True, exist_ok=True)
    volatile = volatile_dir(instance)
    if volatile != prefix:
        shutil.rmtree(volatile, ignore_errors=True)  # a previous run's, killed before it cleaned
        volatile.mkdir(mode=0o700)
    for name in VOLATILE_DIRS:
        (volatile / name).mkdir(parents=True, exist_ok=True)
    socket = instance / "gunicorn.sock"
    pidfile = instance / "gunicorn.pid"
    socket.unlink(missing_ok=True)
    listen_port = args.listen.rsplit(":", 1)[-1]
    public_host = args.public_host or args.server_names.split()[0]
    if args.public_host is None and listen_port not in ("80", "443"):
        public_host += f":{listen_port}"
    config = prefix / "nginx.conf"
    config.write_text(
        render_config(args.listen, args.server_names, public_host, prefix, socket, volatile)
    )

    extra = []
    if gunicorn_has("control_socket"):
        # gunicorn 24+ opens a control socket in ~/.gunicorn by default: keep it ours.
        extra = ["--control-socket", str(instance / "gunicorn.ctl")]
    env = dict(os.environ)
    # Only nginx reaches the socket, and it sets X-Forwarded-For/-Proto: trust one hop (more when
    # the operator says a CDN is in front too).
    env.setdefault("MAPAPP_TRUSTED_PROXIES", "1")
    gunicorn = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"unix:{socket}",
            "--pid",
            str(pidfile),
            *extra,
            "mapapp:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(socket, gunicorn, 60)
    except SystemExit:
        stop(gunicorn, signal.SIGTERM)
        raise
    nginx = subprocess.Popen(  # noqa: S603 - the system's nginx, our config
        [nginx_binary(), "-p", str(prefix), "-c", str(config), "-e", "stderr", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
        text=True,
    )
    threading.Thread(target=copy_stderr, args=(nginx.stderr, sys.stderr), daemon=True).start()
    print(
        f"Serving on {site_address(args.listen, args.server_names)} (nginx -> {socket})",
        file=sys.stderr,
        flush=True,
    )
    for warning in start_warnings(os.environ):
        print(f"Warning: {warning}", file=sys.stderr, flush=True)
    if volatile == prefix:
        print(
            f"Warning: no {MEMORY} to write to: nginx keeps cached pages (with their visitors' "
            f"query strings) and request bodies on the disk, in {prefix}.",
            file=sys.stderr,
            flush=True,
        )

    stopping = threading.Event()

    def on_signal(_signum, _frame) -> None:  # noqa: ANN001
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping.is_set() and gunicorn.poll() is None and nginx.poll() is None:
        stopping.wait(0.5)
    failed = not stopping.is_set()
    # nginx first (QUIT: finish the requests in progress), then gunicorn (TERM: graceful,
    # within its graceful_timeout of 30 s; killed after that, and its files removed).
    stop(nginx, signal.SIGQUIT)
    stop(gunicorn, signal.SIGTERM, 45)
    for leftover in (pidfile, socket):
        leftover.unlink(missing_ok=True)
    if volatile != prefix:
        shutil.rmtree(volatile, ignore_errors=True)
    if failed:
        print(
            f"stopped: nginx status {nginx.returncode}, gunicorn status {gunicorn.returncode}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
