"""The rally map: a Flask application. Start reading at create_app."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from mapapp import config
from mapapp.paths import CHECKOUT_DIR, PACKAGE_DIR, TEMPLATES_DIR

ROOT = PACKAGE_DIR.parent  # the checkout, for tools and tests (an installed app uses paths.py)


class MapApp(Flask):
    """Flask, logging exceptions by route and without their messages (see mapapp.web.logs)."""

    def log_exception(self, exc_info) -> None:  # noqa: ANN001
        from mapapp.web.logs import log_exception

        log_exception(self, exc_info)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = MapApp(
        __name__,
        # A checkout keeps its instance/ beside the code; an installed app uses Flask's
        # default, <prefix>/var/mapapp-instance (site-packages is no place for a database).
        instance_path=str(CHECKOUT_DIR / "instance") if CHECKOUT_DIR else None,
        template_folder=str(TEMPLATES_DIR),
        static_folder=None,  # served by mapapp.web.assets with fingerprinted URLs
    )
    # Settings: declared defaults, then MAPAPP_* environment, then the test's.
    app.config.from_mapping(config.defaults())
    app.config.update(config.from_environ())
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        if app.config["DEVELOPMENT"] or app.config.get("TESTING"):
            app.config["SECRET_KEY"] = secrets.token_hex(32)  # one process: fine
        else:
            # Every gunicorn worker, and every restart, must sign with the same key: made
            # once, kept in instance/ (mode 0600). MAPAPP_SECRET_KEY keeps it off the disk.
            from mapapp.web.accounts import load_or_create_secret

            app.config["SECRET_KEY"] = load_or_create_secret(Path(app.instance_path) / "secret_key")
    if (
        app.config["DEVELOPMENT"]
        and not app.config.get("TESTING")
        and not app.config["CONTACT_KEY"]
    ):
        # Contacts are never stored in clear, on a developer's machine either: a key made once
        # and kept in instance/ (mode 0600), as the secret key is outside development.
        import base64

        from mapapp.web.accounts import load_or_create_secret

        raw = load_or_create_secret(Path(app.instance_path) / "contact_key")
        app.config["CONTACT_KEY"] = base64.urlsafe_b64encode(bytes.fromhex(raw)).decode()

    # Two moderators publish (one seized account publishes nothing); one on a laptop.
    approvals = app.config.get("APPROVALS")
    if approvals in (None, ""):
        approvals = 1 if app.config["DEVELOPMENT"] else 2
    app.config["APPROVALS"] = int(approvals)
    if app.config["APPROVALS"] < 1:
        raise ValueError("MAPAPP_APPROVALS must be 1 or more")
    # Moderators log in with a second factor, except on a laptop (MAPAPP_DEVELOPMENT).
    from mapapp.web.twofactor import parse_setting

    app.config["SECOND_FACTOR"] = parse_setting(
        app.config.get("SECOND_FACTOR"), bool(app.config["DEVELOPMENT"])
    )
    # Flask-WTF's HTTPS Referer check refuses every form of a browser that sends no Referer
    # (privacy settings, extensions, Referrer-Policy: no-referrer). The token, tied to a
    # SameSite session cookie, and the Sec-Fetch-Site check (security.py) do that work.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
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

    from mapapp import cli
    from mapapp.channels.activitypub import worker as activitypub_worker
    from mapapp.channels.telegram import worker
    from mapapp.domain import contacts, db, geocoding, news
    from mapapp.publishing import signing
    from mapapp.views import (
        activitypub,
        api,
        embed,
        feeds,
        moderate,
        moderators,
        pages,
        reports,
        share,
        submit,
        webapp,
    )
    from mapapp.web import (
        assets,
        caching,
        compression,
        errors,
        i18n,
        keyed,
        limits,
        logs,
        security,
        tiles,
        urls,
    )
    from mapapp.web.forms import csrf

    logs.init_app(app)
    keyed.init_app(app)
    urls.init_app(app)
    db.init_app(app)
    caching.install_part_store(app)
    contacts.init_app(app)
    i18n.init_app(app)
    geocoding.init_app(app)
    news.init_app(app)
    assets.init_app(app)
    tiles.init_app(app)
    security.init_app(app)
    compression.init_app(app)
    limits.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    worker.init_app(app)
    activitypub_worker.init_app(app)
    signing.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(submit.bp)
    app.register_blueprint(moderate.bp)
    app.register_blueprint(moderators.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(share.bp)
    app.register_blueprint(webapp.bp)
    app.register_blueprint(activitypub.bp)
    return app
