"""The child process a gunicorn worker prepares the common documents in
(mapapp.web.caching.prepare_documents, MAPAPP_PREPARE_IN_CHILD): started with the worker's
settings on its stdin, one at a time a server and database, gone when done, so the worker's
own heap never holds a preparation."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from mapapp.config import SETTINGS_BY_NAME

# The child that prepares for a serving worker (prepare_in_child): the factory's own module,
# run by the same interpreter; it reads the worker's settings on its stdin.
CHILD = "from mapapp.cli import prepare_documents_child; prepare_documents_child()"
# Seconds a child may take before it is stopped (at 100,000 rallies on PostgreSQL the
# 26 documents took 7-35 s from cold): then the first visitors build, as with no preparation.
CHILD_TIMEOUT = 900.0


def child_settings(app: Flask) -> dict[str, object]:
    """The settings a child process needs to be this app: every declared setting
    (mapapp.config.SETTINGS) and TESTING, as this app holds them (test_config included), as
    a JSON object; a value JSON cannot carry is left to the child's own defaults."""
    found: dict[str, object] = {}
    for name in (*SETTINGS_BY_NAME, "TESTING"):
        if name in app.config:
            value = app.config[name]
            if value is None or isinstance(value, str | int | float | bool):
                found[name] = value
    return found


def preparing_lock(app: Flask) -> Path:
    """The file whose lock one preparing child of a server holds: in the instance folder,
    named by the database (two servers of other databases on one machine, a developer's and
    the tests', never wait for each other)."""
    database = hashlib.sha256(str(app.config.get("DATABASE_URL")).encode()).hexdigest()[:12]
    return Path(app.instance_path) / f"prepare-{database}.lock"


@contextmanager
def _one_child_a_server(app: Flask) -> Iterator[None]:
    """One preparing child at a time among the workers of a server (an exclusive lock on
    preparing_lock(app); each worker's preparer thread waits its turn). After a boundary
    every worker prepares: in turn, the later children find the documents kept and leave
    them alone, instead of each child (up to 370 MiB at 100,000 rallies) running at once.
    Where the lock cannot be had (no instance folder, no fcntl), children run as they come."""
    try:
        import fcntl

        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        lock = open(preparing_lock(app), "a+b")  # noqa: SIM115
    except (ImportError, OSError):
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare_in_child(app: Flask, timeout: float = CHILD_TIMEOUT) -> int:
    """prepare_documents in a short-lived child process (the same interpreter, CHILD), given
    this app's settings as JSON on its stdin (not its command line or environment: other
    users of the machine may read those); returns how many documents it answered.

    Why: at 100,000 rallies a preparation touches every rally's parts and peaks at 320-340 MiB
    (bench/prepmem.py), and a process keeps much of a peak's heap after it; a worker that
    prepared after a boundary stayed above the 300 MiB a worker may use. A child gives all of
    it back to the system when it exits; the worker's own heap never holds a preparation.
    One child at a time a server (_one_child_a_server).
    Raises RuntimeError when the child fails or runs past `timeout` seconds (then stopped)."""
    here = str(Path(sys.modules["mapapp"].__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}
    try:
        with _one_child_a_server(app):
            done = subprocess.run(  # noqa: S603 - this interpreter and our own code, no shell
                [sys.executable, "-c", CHILD],
                input=json.dumps(child_settings(app)),
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
                check=False,
            )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the preparing child ran past {timeout:.0f} s: stopped") from None
    if done.stderr:
        sys.stderr.write(done.stderr)  # the child's log lines, in the worker's log
    if done.returncode != 0:
        raise RuntimeError(f"the preparing child exited with {done.returncode}")
    return int(json.loads(done.stdout.strip().splitlines()[-1])["prepared"])
