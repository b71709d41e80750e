"""Link previews: the share images og:image points at, drawn by mapapp.publishing.share_image."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, request
from flask_babel import force_locale
from flask_babel import gettext as _

from mapapp.domain import db
from mapapp.places.locale import LANGUAGES
from mapapp.publishing.public import current_version, etag_for, localised, public_rally, revision
from mapapp.publishing.share_image import share_image
from mapapp.publishing.words import headline
from mapapp.web.caching import memoized
from mapapp.web.i18n import local_datetime, town_name

bp = Blueprint("share", __name__)


def _png(etag: str, build: Callable[[], bytes]) -> Response:
    # Drawing takes ~0.1 s: each worker keeps the newest few; previews are fetched in bursts.
    body = memoized("share_image", etag, build, 32)
    response = Response(body, mimetype="image/png")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response.make_conditional(request)


@bp.get("/share/map-<language>.png")
def site_image(language: str) -> Response:
    if language not in LANGUAGES:
        abort(404)

    def build() -> bytes:
        with force_locale(language):
            return share_image(
                _("Rallies for political prisoners"),
                [
                    _(
                        "Where and when people in Belarus gather in solidarity with political "
                        "prisoners: a map and a list of rallies."
                    )
                ],
                _("Rally map of Belarus"),
            )

    return _png(etag_for("share-site", language), build)


@bp.get("/share/rallies/<int:rally_id>-<language>.png")
def rally_image(rally_id: int, language: str) -> Response:
    """The rally's title, time and town on a small map of Belarus (the town's point until
    the place is revealed: only what the rally page shows)."""
    if language not in LANGUAGES:
        abort(404)
    session = db.session()
    rally = public_rally(session, rally_id)
    if rally is None:
        abort(404)
    # Its public revision: moves with every public change, the reveal included (the page
    # links the image with ?v= of it, so previews fetch the new picture).
    state = f"{revision(rally, current_version(session))}|{rally.exact}|{rally.status}"
    etag = etag_for("share-rally", str(rally.id), state, language)

    def build() -> bytes:
        with force_locale(language):
            return share_image(
                localised(rally, language).title,  # the seed's title in the language
                [local_datetime(rally.starts_at, "full", language), town_name(rally, language)],
                _("Rally map of Belarus"),
                point=(rally.lat, rally.lon),
                # A band for every urgent status and a time change (mapapp.publishing.words).
                cancelled_text=headline(rally, language) or None,
            )

    return _png(etag, build)
