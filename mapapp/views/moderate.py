"""Moderators: log in, work through the queue, approve, reject, edit or cancel rallies."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from mapapp import db, lifecycle
from mapapp.forms import ActionForm, LoginForm, RallyForm, RejectForm
from mapapp.geocode import gazetteer
from mapapp.i18n import MINSK
from mapapp.limits import limiter
from mapapp.models import AuditEntry, Moderator, Rally, Status
from mapapp.rallies import feature_collection
from mapapp.views.maps import map_shell
from mapapp.views.submit import locate, rally_fields

bp = Blueprint("moderate", __name__, url_prefix="/moderate")


@cache
def dummy_hash() -> str:
    """Checked when the name is unknown, so a wrong name takes as long as a wrong password."""
    return generate_password_hash("not a password")


def current_moderator() -> Moderator | None:
    moderator_id = session.get("moderator_id")
    if moderator_id is None:
        return None
    return db.session().get(Moderator, moderator_id)


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        g.moderator = current_moderator()
        if g.moderator is None:
            return redirect(url_for("moderate.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def actor() -> str:
    return f"moderator:{g.moderator.name}"


@bp.after_request
def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT"], methods=["POST"])
def login():  # noqa: ANN201
    form = LoginForm()
    if form.validate_on_submit():
        moderator = (
            db.session().scalars(select(Moderator).where(Moderator.name == form.name.data)).first()
        )
        password_hash = moderator.password_hash if moderator else dummy_hash()
        if check_password_hash(password_hash, form.password.data) and moderator:
            session.clear()
            session["moderator_id"] = moderator.id
            session.permanent = True
            next_path = request.args.get("next", "")
            # Only a path on this site: never a redirect to another host.
            if not next_path.startswith("/") or next_path.startswith("//"):
                next_path = url_for("moderate.queue")
            return redirect(next_path, code=303)
        form.password.errors.append(_("Wrong name or password."))
    status = 200 if request.method == "GET" else (400 if "csrf_token" in form.errors else 401)
    return make_response(render_template("moderate_login.html", form=form), status)


@bp.post("/logout")
def logout():  # noqa: ANN201
    if not ActionForm().validate():
        abort(400, _("The form has expired. Reload the page and try again."))
    session.clear()
    return redirect(url_for("pages.index"), code=303)


@bp.get("")
@login_required
def queue():  # noqa: ANN201
    session_ = db.session()
    pending = session_.scalars(
        select(Rally).where(Rally.status == Status.PENDING.value).order_by(Rally.created_at)
    ).all()
    recent = session_.scalars(
        select(Rally).where(Rally.status != Status.PENDING.value).order_by(Rally.updated_at.desc())
    ).all()[:30]
    shell = map_shell("browse", "moderate.pending_geojson", "moderate.rally", credentials=True)
    g.csp_script_hashes = shell.script_hashes
    return render_template(
        "moderate.html", pending=pending, recent=recent, shell=shell, action_form=ActionForm()
    )


@bp.get("/pending.geojson")
@login_required
def pending_geojson() -> Response:
    pending = db.session().scalars(
        select(Rally).where(Rally.status == Status.PENDING.value).order_by(Rally.created_at)
    )
    return Response(feature_collection(list(pending)), mimetype="application/geo+json")


def load(rally_id: int) -> Rally:
    rally = db.session().get(Rally, rally_id)
    if rally is None:
        abort(404, _("No such rally."))
    return rally


@bp.get("/rallies/<int:rally_id>")
@login_required
def rally(rally_id: int):  # noqa: ANN201
    found = load(rally_id)
    form = RallyForm(obj=found, formdata=None)
    starts = found.starts_at.astimezone(MINSK)
    form.date.data, form.time.data = starts.date(), starts.time()
    return render_page(found, form)


def render_page(found: Rally, form: RallyForm, status: int = 200):  # noqa: ANN201
    history = (
        db.session()
        .scalars(select(AuditEntry).where(AuditEntry.rally_id == found.id).order_by(AuditEntry.at))
        .all()
    )
    page = render_template(
        "moderate_rally.html",
        rally=found,
        form=form,
        reject_form=RejectForm(),
        action_form=ActionForm(),
        history=history,
    )
    return make_response(page, status)


def checked(form_class=ActionForm):  # noqa: ANN001, ANN201
    form = form_class()
    if not form.validate() and "csrf_token" in form.errors:
        abort(400, _("The form has expired. Reload the page and try again."))
    return form


@bp.post("/rallies/<int:rally_id>/approve")
@login_required
def approve(rally_id: int):  # noqa: ANN201
    checked()
    found = load(rally_id)
    lifecycle.set_status(db.session(), found, Status.APPROVED, actor())
    flash(_("Approved: the rally is on the map."))
    return redirect(url_for("moderate.queue"), code=303)


@bp.post("/rallies/<int:rally_id>/reject")
@login_required
def reject(rally_id: int):  # noqa: ANN201
    found = load(rally_id)
    form = checked(RejectForm)
    if form.errors:
        edit_form = RallyForm(obj=found, formdata=None)
        return render_page(found, edit_form, 422)
    lifecycle.set_status(db.session(), found, Status.REJECTED, actor(), form.reason.data)
    flash(_("Rejected."))
    return redirect(url_for("moderate.queue"), code=303)


@bp.post("/rallies/<int:rally_id>/cancel")
@login_required
def cancel(rally_id: int):  # noqa: ANN201
    checked()
    found = load(rally_id)
    if found.status == Status.CANCELLED.value:
        abort(409, _("This rally is already cancelled."))
    lifecycle.set_status(db.session(), found, Status.CANCELLED, actor())
    flash(_("Cancelled: the map, the list and the feeds show it as cancelled."))
    return redirect(url_for("moderate.queue"), code=303)


@bp.post("/rallies/<int:rally_id>/edit")
@login_required
def edit(rally_id: int):  # noqa: ANN201
    found = load(rally_id)
    form = RallyForm()
    if not form.validate():
        return render_page(found, form, 400 if "csrf_token" in form.errors else 422)
    lat, lon, geonameid = found.lat, found.lon, found.geonameid
    point = form.point()
    if point is not None and point != (found.lat, found.lon):
        if gazetteer().reverse(*point) is None:
            form.place.errors.append(_("The pin is outside Belarus."))
            return render_page(found, form, 422)
        lat, lon = point
    elif (form.town.data, form.place.data or "") != (found.town, found.place):
        located = locate(form)
        if located is None:
            return render_page(found, form, 422)
        lat, lon, geonameid = located["lat"], located["lon"], located.get("geonameid")
    fields = rally_fields(form, lat, lon, geonameid)
    fields["contact"] = found.contact  # moderators don't retype the organizer's contact
    lifecycle.edit(db.session(), found, fields, actor())
    flash(_("Saved."))
    return redirect(url_for("moderate.rally", rally_id=found.id), code=303)
