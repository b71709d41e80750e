"""Rate limits (Flask-Limiter) and the client address they count by.

With MAPAPP_REDIS_URL the counts are shared by all gunicorn workers; without it each
worker counts alone (memory://), which is fine for one process. X-Forwarded-For is
trusted only for MAPAPP_TRUSTED_PROXIES hops: trusting it with no proxy in front
would let anyone step past a limit by sending a new address each time.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_app(app: Flask) -> None:
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # Not X-Forwarded-Host: the proxy passes Host on (mapapp.addresses checks it). The prefix
        # is the path the proxy mounts the site under (/mirror): links follow it.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_prefix=proxies
        )
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "mapapp")
    limiter.init_app(app)
