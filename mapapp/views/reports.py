"""Visitors' reports on a rally: a plain form (no script needed), no account, nothing
about the visitor stored (mapapp.domain.reports); limited per client by a keyed hash."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, make_response, render_template

from mapapp.domain import db, reports
from mapapp.domain.models import utcnow
from mapapp.publishing.public import public_rally
from mapapp.web.forms import ReportForm
from mapapp.web.limits import limiter

bp = Blueprint("reports", __name__)


def report_limit() -> str:
    return current_app.config["REPORT_LIMIT"]


@bp.after_request
def private(response: Response) -> Response:
    """A page with a form token: never cached, never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
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
        reports.add(db.session(write=True), found.id, form.reason.data, form.text.data or "")
        return make_response(render_template("report_done.html", rally=found), 200)
    if form.errors:
        status = 400 if "csrf_token" in form.errors else 422
    return make_response(render_template("report.html", rally=found, form=form), status)
