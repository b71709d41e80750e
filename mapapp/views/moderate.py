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
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from mapapp.domain import db, lifecycle
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import AuditEntry, Moderator, Rally, Status
from mapapp.places.locale import MINSK
from mapapp.publishing.geojson import feature_collection
from mapapp.web import accounts
from mapapp.web.forms import (
    ActionForm,
    LoginForm,
    RallyForm,
    RejectForm,
    csrf,
    locate,
    rally_fields,
)
from mapapp.web.mapshells import map_shell
from mapapp.web.urls import external_url

bp = Blueprint("moderate", __name__, url_prefix="/moderate")


@cache
def dummy_hash() -> str:
    """Checked when the name is unknown, so a wrong name takes as long as a wrong password."""
    return generate_password_hash("not a password")


def current_moderator() -> Moderator | None:
    """The moderator of this session, unless the session was ended (its epoch is old)."""
    moderator_id = session.get("moderator_id")
    if moderator_id is None:
        return None
    moderator = db.session().get(Moderator, moderator_id)
    if moderator is None or session.get("epoch") != moderator.session_epoch:
        return None
    return moderator


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
@csrf.exempt  # the form checks its token and asks again with a fresh one
def login():  # noqa: ANN201
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        session_ = db.session()
        moderator = session_.scalars(
            select(Moderator).where(Moderator.name == form.name.data)
        ).first()
        if accounts.login_refused(session_, form.name.data, moderator):
            form.password.errors.append(
                _("Too many wrong passwords: log-in is paused for a while. Try again later.")
            )
            return make_response(render_template("moderate_login.html", form=form), 429)
        password_hash = moderator.password_hash if moderator else dummy_hash()
        if check_password_hash(password_hash, form.password.data) and moderator:
            device = accounts.known_device(moderator)
            session.clear()
            session["moderator_id"] = moderator.id
            session["epoch"] = moderator.session_epoch
            session.permanent = True
            # Only a moderation page of this site, under whatever prefix the site has.
            next_path = accounts.safe_next(request.args.get("next"))
            target = request.script_root + next_path if next_path else url_for("moderate.queue")
            response = redirect(target, code=303)
            accounts.remember_device(response, moderator, device)
            return response
        accounts.record_failure(session_, form.name.data, moderator)
        form.password.errors.append(_("Wrong name or password."))
        status = 401
    elif request.method == "POST":
        status = 400 if "csrf_token" in form.errors else 422
    return make_response(render_template("moderate_login.html", form=form), status)


@bp.post("/logout")
def logout():  # noqa: ANN201
    if not ActionForm().validate():
        abort(400, _l("The form has expired. Reload the page and try again."))
    moderator = current_moderator()
    if moderator is not None:
        # Every copy of this moderator's cookie stops working, on every device.
        accounts.end_sessions(moderator)
        db.session().commit()
    session.clear()
    return redirect(url_for("pages.index"), code=303)


def waiting() -> list[Rally]:
    """New rallies and organizers' edits of public ones, oldest first."""
    waits = or_(Rally.status == Status.PENDING.value, Rally.changes_pending.is_(True))
    return list(db.session().scalars(select(Rally).where(waits).order_by(Rally.created_at)))


@bp.get("")
@login_required
def queue():  # noqa: ANN201
    session_ = db.session()
    pending = waiting()
    recent = session_.scalars(
        select(Rally).where(Rally.status != Status.PENDING.value).order_by(Rally.updated_at.desc())
    ).all()[:30]
    shell = map_shell("browse", "moderate.pending_geojson", "moderate.rally", credentials=True)
    g.csp_script_hashes = shell.script_hashes
    return render_template(
        "moderate.html",
        pending=pending,
        recent=recent,
        shell=shell,
        action_form=ActionForm(),
        queue_full=lifecycle.queue_full(session_),
        pending_limit=current_app.config["PENDING_LIMIT"],
    )


@bp.get("/pending.geojson")
@login_required
def pending_geojson() -> Response:
    return Response(feature_collection(waiting()), mimetype="application/geo+json")


def load(rally_id: int) -> Rally:
    rally = db.session().get(Rally, rally_id)
    if rally is None:
        abort(404, _l("No such rally."))
    return rally


@bp.get("/rallies/<int:rally_id>")
@login_required
def rally(rally_id: int):  # noqa: ANN201
    found = load(rally_id)
    form = RallyForm(obj=found, formdata=None)
    starts = found.starts_at.astimezone(MINSK)
    form.date.data, form.time.data = starts.date(), starts.time()
    form.show_reveal(found.reveal_at)
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
        published=lifecycle.published(db.session(), found),
        form=form,
        reject_form=RejectForm(),
        action_form=ActionForm(),
        history=history,
    )
    return make_response(page, status)


def checked(form_class=ActionForm):  # noqa: ANN001, ANN201
    form = form_class()
    if not form.validate() and "csrf_token" in form.errors:
        abort(400, _l("The form has expired. Reload the page and try again."))
    return form


def refused(error: lifecycle.Refused) -> None:
    """A change the state table does not allow: 409 with its translated reason."""
    abort(409, error.message)


@bp.post("/rallies/<int:rally_id>/approve")
@login_required
def approve(rally_id: int):  # noqa: ANN201
    """Publish a pending rally, or an organizer's waiting edit of a public one."""
    checked()
    found = load(rally_id)
    try:
        lifecycle.approve(db.session(), found, actor())
    except lifecycle.Refused as error:
        refused(error)
    flash(_("Approved: the rally is on the map."))
    return redirect(url_for("moderate.queue"), code=303)


def rejection(rally_id: int, action: str, done: str):  # noqa: ANN201
    found = load(rally_id)
    form = checked(RejectForm)
    if form.errors:
        edit_form = RallyForm(obj=found, formdata=None)
        return render_page(found, edit_form, 422)
    try:
        lifecycle.perform(db.session(), found, actor(), action, form.reason.data)
    except lifecycle.Refused as error:
        refused(error)
    flash(done)
    return redirect(url_for("moderate.queue"), code=303)


@bp.post("/rallies/<int:rally_id>/reject")
@login_required
def reject(rally_id: int):  # noqa: ANN201
    """Reject a pending rally, or take down a public one (the organizer cannot undo it)."""
    return rejection(rally_id, "reject", _("Rejected."))


@bp.post("/rallies/<int:rally_id>/reject-changes")
@login_required
def reject_changes(rally_id: int):  # noqa: ANN201
    """Discard an organizer's waiting edit; the published version stays."""
    return rejection(
        rally_id, "reject_changes", _("The changes are discarded; the approved version stays.")
    )


# Status actions a moderator takes with one press, and what the page then says.
STATUS_ACTIONS = {
    "cancel": lambda: _("Cancelled: the map, the list and the feeds show it as cancelled."),
    "danger": lambda: _("Danger is shown: everyone is told not to come."),
    "clear_danger": lambda: _("The danger warning is removed."),
    "move": lambda: _("Marked as moved: everyone is told to check the new place."),
    "restore": lambda: _("The rally is on the map again."),
}


@bp.post("/rallies/<int:rally_id>/cancel")
@login_required
def cancel(rally_id: int):  # noqa: ANN201
    return set_status(rally_id, "cancel")


@bp.post("/rallies/<int:rally_id>/status/<action>")
@login_required
def set_status(rally_id: int, action: str):  # noqa: ANN201
    """One status action of the state table (danger, clear_danger, move, restore, cancel)."""
    if action not in STATUS_ACTIONS:
        abort(404)
    checked()
    found = load(rally_id)
    try:
        lifecycle.perform(db.session(), found, actor(), action)
    except lifecycle.Refused as error:
        refused(error)
    flash(STATUS_ACTIONS[action]())
    return redirect(url_for("moderate.rally", rally_id=found.id), code=303)


@bp.post("/rallies/<int:rally_id>/edit")
@login_required
@csrf.exempt  # the form checks its token; a stale one shows the edits again, not a bare 400
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
    session_ = db.session()
    try:
        lifecycle.set_reveal(session_, found, fields["reveal_at"], actor())
        lifecycle.edit(session_, found, fields, actor())
    except lifecycle.Refused as error:
        refused(error)
    flash(_("Saved."))
    return redirect(url_for("moderate.rally", rally_id=found.id), code=303)


@bp.post("/rallies/<int:rally_id>/manage-link")
@login_required
def new_manage_link(rally_id: int):  # noqa: ANN201
    """A new manage link for an organizer who lost theirs: the old one stops working. Shown
    once, on this answer (never stored, never redirected through the session)."""
    checked()
    found = load(rally_id)
    token = lifecycle.new_manage_link(db.session(), found, actor())
    link = external_url("submit.manage", token=token)
    return render_template("moderate_link.html", rally=found, link=link)
