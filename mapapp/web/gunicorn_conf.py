"""gunicorn's settings for the app, in the package so that an installed wheel has them too.

`gunicorn -c python:mapapp.web.gunicorn_conf 'mapapp:create_app()'` reads it anywhere; a checkout's
gunicorn.conf.py (read from the working directory, so the Procfile needs no flags) takes it from
here. Settings: PORT, WEB_CONCURRENCY, MAPAPP_THREADS, MAPAPP_ACCESS_LOG.
"""

__all__ = ["bind", "workers", "worker_class", "threads", "timeout", "logger_class", "accesslog",
           "access_log_format"]  # fmt: skip


import os
import secrets

from mapapp.config import defaults as _defaults
from mapapp.config import from_environ as _from_environ
from mapapp.web.heap import limit_arenas as _limit_arenas

# The key of the keyed hashes that stand for client addresses (mapapp.web.keyed): made here, in
# the master, unless the environment gives one, and inherited by every worker through its
# environment, so that all of them count a client together. Never written to a file.
os.environ.setdefault("MAPAPP_HASH_KEY", secrets.token_hex(32))

# At most 2 malloc arenas a process (glibc; MALLOC_ARENA_MAX, when set, says otherwise): set
# here in the master, before any thread, so every worker forked from it inherits the limit.
# Each of a worker's threads (MAPAPP_THREADS, the preparer, the boundary's timer) would
# otherwise take an arena of its own (up to 8 a core), each keeping the pages a build freed
# (docs/benchmarks.md, "session 9").
_limit_arenas(2)

# The app's declared settings (MAPAPP_*); gunicorn takes every other top-level name here
# for one of its own, hence the underscores.
_settings = {**_defaults(), **_from_environ()}

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Workers from the CPUs this process may use (gunicorn's docs: about one or two a core; with
# threads, one a core plus one), unless WEB_CONCURRENCY says.
workers = int(os.environ.get("WEB_CONCURRENCY", str(len(os.sched_getaffinity(0)) + 1)))
# Threads, so a worker waiting on the tile server or Nominatim does not hold up the map.
worker_class = "gthread"
threads = _settings["THREADS"]
timeout = 30
# No client address, query string or secret path in any log line: visitors face
# surveillance. The logger class writes the route (/manage/<token>) whatever the format.
logger_class = "mapapp.web.logs.GunicornLogger"
accesslog = "-" if _settings["ACCESS_LOG"] else None
access_log_format = '"%(r)s" %(s)s %(b)s %(L)ss'
