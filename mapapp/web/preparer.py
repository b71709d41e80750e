"""The child process a gunicorn worker prepares the common documents in
(mapapp.web.caching.prepare_documents, MAPAPP_PREPARE_IN_CHILD): started with the worker's
settings on its stdin, one at a time a database, gone when done, so the worker's
own heap never holds a preparation."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from mapapp.config import SETTINGS_BY_NAME

# The child that prepares for a serving worker (prepare_in_child): the factory's own module,
# run by the same interpreter; it reads the worker's settings on its stdin.
CHILD = "from mapapp.cli import prepare_documents_child; prepare_documents_child()"
# Seconds a child may take before it is stopped (at 100,000 rallies on PostgreSQL the
# 26 documents took 7-35 s from cold): then the first visitors build, as with no preparation.
CHILD_TIMEOUT = 900.0
# The environment variable that gives the child its worker's process id.
PARENT = "MAPAPP_PREPARING_FOR"


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


# PostgreSQL's advisory lock of the preparing child (any 64-bit number the app uses for
# nothing else): one child at a time for every server of the database.
ADVISORY_KEY = 0x6D61706170707072  # "mapapppr"
# Seconds between two tries of the lock while another child holds it.
LOCK_POLL = 0.5


def preparing_lock(app: Flask) -> Path | None:
    """On SQLite, the file whose lock the preparing child of the database holds, beside the
    database file (so only servers of that database wait for each other, and a test's
    database's goes with it); None on PostgreSQL (an advisory lock) or an in-memory one."""
    url = app.extensions["mapapp.db"]["engine"].url  # the default file's too
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + ".prepare-lock")


@contextmanager
def _one_child_at_a_time(app: Flask, timeout: float) -> Iterator[None]:
    """Held while this worker's child prepares: one child at a time for a database (on
    PostgreSQL an advisory lock, every server's workers; on SQLite a lock on
    preparing_lock(app), every worker of the machine). After a boundary every worker
    prepares: in turn, the later children find the documents kept and leave them alone,
    instead of each child (up to 370 MiB at 100,000 rallies) running at once. Waited for at
    most `timeout` seconds (RuntimeError: a child that hangs holds up no other worker's
    preparations past that); where no lock can be had (no fcntl, an in-memory database),
    children run as they come."""
    deadline = time.monotonic() + timeout
    engine = app.extensions["mapapp.db"]["engine"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            while not connection.scalar(select(func.pg_try_advisory_lock(ADVISORY_KEY))):
                connection.rollback()
                if time.monotonic() > deadline:
                    raise RuntimeError("another server's preparing child held the lock too long")
                time.sleep(LOCK_POLL)
            connection.commit()  # the lock is the session's: no transaction held open
            try:
                yield
            finally:
                connection.scalar(select(func.pg_advisory_unlock(ADVISORY_KEY)))
                connection.commit()
        return
    path = preparing_lock(app)
    try:
        import fcntl

        # Its owner's alone, as the database is: anyone who could open it could lock it and
        # hold every worker's preparation up.
        lock = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") if path else None
    except (ImportError, OSError):
        lock = None
    if lock is None:
        yield
        return
    with lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "another worker's preparing child held the lock too long"
                    ) from None
                time.sleep(LOCK_POLL)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# The children running now, ended when the worker exits (gunicorn's graceful stop, a reload):
# a worker that left one behind would leave it without its time limit, its log or its lock.
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


@atexit.register
def _end_children() -> None:
    with _running_lock:
        children = list(_running)
    for child in children:
        if child.poll() is None:
            child.terminate()


def prepare_in_child(app: Flask, timeout: float = CHILD_TIMEOUT) -> int:
    """prepare_documents in a short-lived child process (the same interpreter, CHILD), given
    this app's settings as JSON on its stdin (not on its command line, which other users of
    the machine may read; its environment is the worker's own); returns how many documents
    it answered.

    Why: at 100,000 rallies a preparation touches every rally's parts and peaks at 320-340 MiB
    (bench/prepmem.py), and a process keeps much of a peak's heap after it; a worker that
    prepared after a boundary stayed above the 300 MiB a worker may use. A child gives all of
    it back to the system when it exits; the worker's own heap never holds a preparation.
    One child at a time a database (_one_child_at_a_time); ended if the worker exits first.
    Raises RuntimeError when the child fails or runs past `timeout` seconds (then stopped)."""
    here = str(Path(sys.modules["mapapp"].__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}
    env[PARENT] = str(os.getpid())  # the child stops if this worker is gone
    with _one_child_at_a_time(app, timeout):
        child = subprocess.Popen(  # noqa: S603 - this interpreter and our own code, no shell
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        with _running_lock:
            _running.add(child)
        try:
            out, err = child.communicate(json.dumps(child_settings(app)), timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise RuntimeError(f"the preparing child ran past {timeout:.0f} s: stopped") from None
        finally:
            with _running_lock:
                _running.discard(child)
    if err:
        sys.stderr.write(err)  # the child's log lines, in the worker's log
    if child.returncode != 0:
        raise RuntimeError(f"the preparing child exited with {child.returncode}")
    return int(json.loads(out.strip().splitlines()[-1])["prepared"])


def parent_alive() -> bool:
    """In a preparing child: whether the worker that started it still runs (a child whose
    worker was killed stops after the document it is building, instead of running on
    without its time limit, its log and its lock)."""
    parent = os.environ.get(PARENT)
    return parent is None or os.getppid() == int(parent)
