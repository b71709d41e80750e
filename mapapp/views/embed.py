"""The map on partner sites: /embed (frameable, no cookies), its code page, and oEmbed."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from mapapp.domain import db
from mapapp.domain.filters import RallyFilter, number, one_of, parse_filter, parse_view
from mapapp.domain.geocoding import gazetteer
from mapapp.places.locale import DEFAULT_LANGUAGE, LANGUAGES
from mapapp.places.regions import REGION_CODES
from mapapp.publishing.embedding import (
    DEFAULT_WIDTH,
    EmbedOptions,
    embed_query,
    iframe_html,
    map_query,
    parse_embed,
)
from mapapp.publishing.public import public_rally
from mapapp.publishing.words import headed_title
from mapapp.web.caching import page_once
from mapapp.web.i18n import current_language
from mapapp.web.mapshells import EARLY_FEED_HASH, early_feed, filter_focus, map_shell
from mapapp.web.security import frameable
from mapapp.web.urls import app_path, external_url

bp = Blueprint("embed", __name__)

# Partners' CDNs and visitors' browsers may keep an embed page (only the map's shell: the
# rallies come from the GeoJSON, kept MAPAPP_CACHE_SECONDS) and oEmbed answers a minute.
MAX_AGE = 60
# The zoom of a rally's embedded map: its square and the streets around.
RALLY_ZOOM = 15
# ...and of one whose place is not yet revealed: the town.
TOWN_ZOOM = 12


def site_name(lang: str) -> str:
    """The site's name in a language: the title of an embedded map, oEmbed's provider."""
    with force_locale(lang):
        return _("Rally map of Belarus")


def public(response: Response) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


def map_options(args: Any) -> tuple[RallyFilter, EmbedOptions]:
    """The filter and the embed options; a bad filter, centre or option is a 400, not a
    silently empty map."""
    rally_filter = parse_filter(args, gazetteer())
    parse_view(args)
    return rally_filter, parse_embed(args)


@bp.get("/embed")
@frameable
def embed() -> Response:
    # No session, no flash, no form: nothing here may set a cookie (tests/test_embed.py).
    rally_filter, options = map_options(request.args)
    shell = map_shell("embed")
    g.csp_script_hashes = (*shell.script_hashes, EARLY_FEED_HASH)
    page = page_once(
        "embed",
        lambda: render_template(
            "embed.html",
            shell=shell,
            early_feed=early_feed(rally_filter),
            map_focus=filter_focus(rally_filter),
            map_focus_town=rally_filter.city_id is not None,
            options=options,
            full_map=url_for("pages.index", **map_query(request.args)),
            full_list=url_for("pages.rallies", **map_query(request.args)),
        ),
    )
    return public(Response(page, mimetype="text/html"))


@bp.get("/embed/code")
def code() -> str:
    """Partners pick options in a plain GET form, see a preview and copy the snippet."""
    options = map_options(request.args)[1]
    lang = request.args.get("embed_lang") or current_language()
    if lang not in LANGUAGES:
        raise one_of("embed_lang", LANGUAGES)
    query = {**embed_query(request.args), "lang": lang}
    return render_template(
        "embed_code.html",
        args=request.args,
        lang=lang,
        options=options,
        regions=REGION_CODES,
        preview=url_for("embed.embed", **query),
        snippet=iframe_html(external_url("embed.embed", **query), site_name(lang), options.height),
    )


def resolve(url: str) -> tuple[str, dict[str, Any]]:
    """The endpoint and arguments of a URL of this site (any of its declared addresses, under
    its path prefix); 404 for anything else."""
    found = app_path(url)
    if found is None:
        abort(404, "oEmbed answers only for this site's map and rally pages.")
    try:
        endpoint, view_args = current_app.url_map.bind("localhost").match(found[0], method="GET")
    except HTTPException:
        abort(404, "No such page on this site.")
    return endpoint, view_args


def embed_for(url: str) -> tuple[str, dict[str, str], EmbedOptions]:
    """What to embed for an address of this site: the iframe's title, /embed query, options."""
    endpoint, view_args = resolve(url)
    args = dict(parse_qsl(urlsplit(url).query))
    # In the language of the address (an oEmbed consumer's own is no guide).
    lang = args.get("lang") if args.get("lang") in LANGUAGES else DEFAULT_LANGUAGE
    if endpoint in ("pages.index", "embed.embed"):
        options = map_options(args)[1]
        return site_name(lang), {**embed_query(args), "lang": lang}, options
    if endpoint == "pages.rally":
        rally = public_rally(db.session(), view_args["rally_id"])
        if rally is None:
            abort(404, "No such rally.")
        # The rally's place on the map, whenever it was (its town until the place is revealed).
        query = {"lang": lang, "when": "all", "lat": f"{rally.lat:.6f}", "lon": f"{rally.lon:.6f}"}
        zoom = RALLY_ZOOM if rally.exact else TOWN_ZOOM
        # Its headline (a warning, cancelled, a time change) leads the title.
        return headed_title(rally, lang), {**query, "zoom": str(zoom)}, EmbedOptions()
    abort(404, "oEmbed answers only for this site's map and rally pages.")


@bp.get("/oembed")
def oembed() -> Response:
    """oEmbed (https://oembed.com) for the map (/, /embed) and rally pages."""
    answer_format = request.args.get("format") or "json"
    if answer_format == "xml":  # oEmbed's own answer for a format the provider lacks
        abort(501, "Only format=json is available.")
    if answer_format != "json":
        raise one_of("format", ("json",))
    url = request.args.get("url", "")
    if not url:
        abort(400, "Give the page to embed as ?url=.")
    max_width = number(request.args, "maxwidth", 1, 100_000, whole=True)
    max_height = number(request.args, "maxheight", 1, 100_000, whole=True)
    title, query, options = embed_for(url)
    width = min(DEFAULT_WIDTH, int(max_width or DEFAULT_WIDTH))
    height = min(options.height, int(max_height or options.height))
    html = iframe_html(
        external_url("embed.embed", **query),
        title,
        height,
        max_width=width if max_width else None,
    )
    return public(
        jsonify(
            version="1.0",
            type="rich",
            title=title,
            provider_name=site_name(query["lang"]),
            provider_url=external_url("pages.index", lang=None),
            html=html,
            width=width,
            height=height,
        )
    )
