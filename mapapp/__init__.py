"""The rally map: a Flask application. Start reading at create_app."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from mapapp import config

csrf = CSRFProtect()

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=None,  # served by mapapp.assets with fingerprinted URLs
    )
    # Settings: declared defaults, then MAPAPP_* environment, then the test's.
    app.config.from_mapping(config.defaults())
    app.config.update(config.from_environ())
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        # Fine for one development process; production sets MAPAPP_SECRET_KEY (see README).
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.jinja_env.add_extension("jinja2.ext.do")
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is no limit
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    # Moderators' session: not readable by scripts, not sent from other sites, HTTPS only
    # outside development; forgotten after a working day.
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not (app.config["DEVELOPMENT"] or app.config.get("TESTING")),
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )

    from mapapp import (
        assets,
        cli,
        db,
        errors,
        geocode,
        i18n,
        limits,
        logs,
        security,
        signing,
        tiles,
    )
    from mapapp.views import api, embed, feeds, moderate, pages, share, submit

    logs.init_app(app)
    db.init_app(app)
    i18n.init_app(app)
    geocode.init_app(app)
    assets.init_app(app)
    tiles.init_app(app)
    security.init_app(app)
    limits.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    signing.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(submit.bp)
    app.register_blueprint(moderate.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(share.bp)
    return app
