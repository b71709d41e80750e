"""Pages for people: the map, the list of rallies, a rally's page."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, g, render_template, request
from flask_babel import format_date

from mapapp import db
from mapapp.filters import parse_filter, parse_view
from mapapp.geocode import gazetteer
from mapapp.i18n import MINSK
from mapapp.rallies import public_rallies, public_rally
from mapapp.views.maps import map_shell

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    # A bad filter or centre is a 400 here, not a silently empty map.
    parse_filter(request.args, gazetteer())
    parse_view(request.args)
    shell = map_shell()
    g.csp_script_hashes = shell.script_hashes
    return render_template("map.html", shell=shell)


@bp.get("/rallies")
def rallies() -> str:
    rally_filter = parse_filter(request.args, gazetteer())
    found = public_rallies(db.session(), rally_filter)
    # Upcoming: the main rally first, whatever its date; then day by day.
    featured = [r for r in found if r.featured] if rally_filter.when == "upcoming" else []
    rest = [r for r in found if r not in featured]
    by_day = [
        (format_date(day, "full"), list(items))
        for day, items in groupby(rest, key=lambda r: r.starts_at.astimezone(MINSK).date())
    ]
    return render_template(
        "rallies.html", rally_filter=rally_filter, rallies=found, featured=featured, by_day=by_day
    )


@bp.get("/rallies/<int:rally_id>")
def rally(rally_id: int) -> str:
    found = public_rally(db.session(), rally_id)
    if found is None:
        abort(404)
    return render_template("rally.html", rally=found)
