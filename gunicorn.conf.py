"""gunicorn reads this file from the working directory: the Procfile needs no flags."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Workers from the CPUs this process may use (gunicorn's docs: about one or two a core; with
# threads, one a core plus one), unless WEB_CONCURRENCY says.
workers = int(os.environ.get("WEB_CONCURRENCY", str(len(os.sched_getaffinity(0)) + 1)))
# Threads, so a worker waiting on the tile server or Nominatim does not hold up the map.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
# No client address in any log line: visitors face surveillance.
accesslog = "-" if os.environ.get("MAPAPP_ACCESS_LOG") else None
access_log_format = '"%(r)s" %(s)s %(b)s %(L)ss'
