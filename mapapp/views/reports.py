"""Visitors' reports on a rally: a plain form (no script needed), no account, nothing
about the visitor stored (mapapp.domain.reports); limited per client by a keyed hash."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
)
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded

from mapapp.domain import db, reports
from mapapp.domain.models import utcnow
from mapapp.publishing.public import public_rally
from mapapp.web.errors import handle_http_error, too_many_text
from mapapp.web.forms import ReportForm
from mapapp.web.limits import limiter, retry_seconds

bp = Blueprint("reports", __name__)

FULL_ON_RALLY = _l(
    "The moderators already have many reports on this rally waiting for them, and will read them."
)
FULL = _l("The moderators have too many reports waiting for them. Please try again later.")


def report_limit() -> str:
    return current_app.config["REPORT_LIMIT"]


@bp.after_request
def private(response: Response) -> Response:
    """A page with a form token: never cached, never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.errorhandler(RateLimitExceeded)
def too_many(error: RateLimitExceeded):  # noqa: ANN201
    """429: the report form again, with what was typed and the real wait."""
    rally_id = (request.view_args or {}).get("rally_id")
    found = public_rally(db.session(), rally_id, utcnow()) if rally_id is not None else None
    if request.method != "POST" or found is None:
        return handle_http_error(error)
    form = ReportForm()
    page = render_template("report.html", rally=found, form=form, too_many=too_many_text())
    response = make_response(page, 429)
    wait = retry_seconds()
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response


@bp.route("/rallies/<int:rally_id>/report", methods=["GET", "POST"])
@limiter.limit(report_limit, methods=["POST"])
def report(rally_id: int):  # noqa: ANN201
    """Tell the moderators something is wrong with a public rally."""
    session = db.session()
    found = public_rally(session, rally_id, utcnow())
    if found is None:
        abort(404)
    form = ReportForm()
    status = 200
    if form.validate_on_submit():
        try:
            reports.add(db.session(write=True), found.id, form.reason.data, form.text.data or "")
        except reports.ReportsFull as full:
            # The form again, what was typed kept: a flood stops here, not in the database.
            said = FULL_ON_RALLY if full.rally else FULL
            page = render_template("report.html", rally=found, form=form, too_many=str(said))
            return make_response(page, 503, {"Retry-After": "3600"})
        return make_response(render_template("report_done.html", rally=found), 200)
    if form.errors:
        status = 400 if "csrf_token" in form.errors else 422
    return make_response(render_template("report.html", rally=found, form=form), status)
