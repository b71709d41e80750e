"""Moderators' accounts under pressure: the second factor (log-in code, set-up, recovery
codes), the moderators' page where two of them suspend a third, and visitors' reports
marked handled."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from mapapp.domain import contacts, db, lifecycle, reports, suspension
from mapapp.domain.contacts import ContactKeyMissing
from mapapp.domain.models import Moderator, utcnow
from mapapp.views.moderate import (
    checked,
    current_moderator,
    load,
    login_required,
    named,
    start_session,
)
from mapapp.web import twofactor
from mapapp.web.forms import ActionForm, CodeForm, SuspendForm

bp = Blueprint("moderators", __name__, url_prefix="/moderate")

log = logging.getLogger(__name__)

HALF_SECONDS = 600  # between the right password and the second factor, at most


@bp.after_request
def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def half_moderator() -> Moderator | None:
    """The moderator whose password was right in this session in the last HALF_SECONDS and
    who still owes the second factor (or its set-up), else None."""
    moderator_id = session.get("half_id")
    if moderator_id is None:
        return None
    if int(utcnow().timestamp()) - int(session.get("half_at", 0)) > HALF_SECONDS:
        return None
    moderator = db.session().get(Moderator, moderator_id)
    if (
        moderator is None
        or moderator.suspended_at is not None
        or session.get("half_epoch") != moderator.session_epoch
    ):
        return None
    return moderator


def finish_login(moderator: Moderator) -> str:
    """Open the full session; returns where the log-in was going."""
    target = session.get("half_next") or url_for("moderate.queue")
    start_session(moderator)
    return target


def too_many() -> str:
    return _("Too many wrong codes: log-in is paused for a while. Try again later.")


@bp.route("/login/code", methods=["GET", "POST"])
def code():  # noqa: ANN201
    """The second step of logging in: a TOTP code or a one-time recovery code."""
    moderator = half_moderator()
    if moderator is None or not moderator.totp_enabled:
        return redirect(url_for("moderate.login"), code=303)
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        session_ = db.session()
        given = form.code.data
        paused = twofactor.code_refused(session_, moderator)
        # A recovery code (80 bits) cannot be found by trying, so it is taken even while wrong
        # six-digit codes pause the log-in: whoever has the password cannot lock the
        # moderator out by typing wrong codes.
        if twofactor.use_recovery_code(session_, moderator, given) or (
            not paused and twofactor.check_code(session_, moderator, given)
        ):
            return redirect(finish_login(moderator), code=303)
        if paused:
            form.code.errors.append(too_many())
            return make_response(render_template("moderate_code.html", form=form), 429)
        twofactor.record_code_failure(session_, moderator)
        form.code.errors.append(_("Wrong or already used code."))
        status = 401
    elif form.errors:
        status = 400 if "csrf_token" in form.errors else 422
    return make_response(render_template("moderate_code.html", form=form), status)


def no_contact_key() -> None:
    """503: the second factor cannot be set up until the operator sets the contact key."""
    abort(
        503,
        _l(
            "The second factor cannot be set up yet: the site's operator must set"
            " MAPAPP_CONTACT_KEY and restart the site. Nothing was changed; log in again"
            " after that."
        ),
    )


@bp.route("/account", methods=["GET", "POST"])
def account():  # noqa: ANN201
    """The moderator's account: set up the second factor (required at the first log-in in
    production), or see it is on and make new recovery codes."""
    moderator = current_moderator() or half_moderator()
    if moderator is None:
        return redirect(url_for("moderate.login", next=url_for("moderators.account")), code=303)
    full = current_moderator() is not None
    g.moderator = moderator
    session_ = db.session()
    form = CodeForm()
    if moderator.totp_enabled:
        if not full:
            return redirect(url_for("moderators.code"), code=303)
        return render_account(moderator, form)
    if moderator.totp_secret is None:
        if not contacts.accepting():
            # The secret is only ever stored encrypted: without the key, say what the
            # operator must do (the commit would fail inside SQLAlchemy, wrapped: a 500).
            log.error(
                "second factor set-up refused: set MAPAPP_CONTACT_KEY"
                " (flask --app mapapp new-contact-key) to store TOTP secrets"
            )
            no_contact_key()
        session_ = db.session(write=True)
        try:
            moderator.totp_secret = twofactor.new_secret()
            session_.commit()
        except StatementError as error:
            session_.rollback()
            if not isinstance(error.orig, ContactKeyMissing):
                raise
            no_contact_key()
    status = 200
    if form.validate_on_submit():
        if twofactor.code_refused(session_, moderator):
            form.code.errors.append(too_many())
            return render_account(moderator, form, 429)
        if twofactor.check_code(session_, moderator, form.code.data):
            moderator.totp_enabled = True
            lifecycle.audit(session_, f"moderator:{moderator.name}", "second_factor_on", None)
            session_.commit()
            codes = twofactor.new_recovery_codes(session_, moderator)
            target = finish_login(moderator) if not full else url_for("moderate.queue")
            page = render_template("moderate_recovery.html", codes=codes, target=target)
            return make_response(page, 200)
        twofactor.record_code_failure(session_, moderator)
        form.code.errors.append(_("Wrong or already used code."))
        status = 422
    elif form.errors:
        status = 400 if "csrf_token" in form.errors else 422
    return render_account(moderator, form, status)


def render_account(moderator: Moderator, form: CodeForm, status: int = 200) -> Response:
    secret = None if moderator.totp_enabled else moderator.totp_secret
    if secret:  # setting up: no recovery codes exist yet
        form.code.label.text = _("Six digits from your authenticator app")
    page = render_template(
        "moderate_account.html",
        moderator=moderator,
        form=form,
        required=twofactor.required(),
        secret=twofactor.grouped(secret) if secret else None,
        uri=twofactor.otpauth_uri(secret, moderator.name) if secret else None,
        codes_left=twofactor.recovery_codes_left(db.session(), moderator),
    )
    return make_response(page, status)


@bp.post("/account/recovery-codes")
@login_required
def recovery_codes():  # noqa: ANN201
    """Ten new recovery codes (the old ones stop working), after a current TOTP code."""
    moderator = g.moderator
    form = CodeForm()
    session_ = db.session()
    if not form.validate() or not moderator.totp_enabled:
        return render_account(moderator, form, 400 if "csrf_token" in form.errors else 422)
    if twofactor.code_refused(session_, moderator):
        form.code.errors.append(too_many())
        return render_account(moderator, form, 429)
    if not twofactor.check_code(session_, moderator, form.code.data):
        twofactor.record_code_failure(session_, moderator)
        form.code.errors.append(_("Wrong or already used code."))
        return render_account(moderator, form, 422)
    codes = twofactor.new_recovery_codes(session_, moderator)
    lifecycle.audit(session_, f"moderator:{moderator.name}", "new_recovery_codes", None)
    session_.commit()
    page = render_template(
        "moderate_recovery.html", codes=codes, target=url_for("moderators.account")
    )
    return make_response(page, 200)


@bp.get("/moderators")
@login_required
def moderators():  # noqa: ANN201
    """Every moderator, with the proposals to suspend one (any two suspend a third)."""
    session_ = db.session(write=True)  # expired proposals are deleted as they are read
    everyone = list(session_.scalars(select(Moderator).order_by(Moderator.name)))
    proposals = {}
    for moderator in everyone:
        if moderator.suspended_at is None:
            found = suspension.votes(session_, moderator)
            proposals[moderator.id] = [
                (session_.get(Moderator, v.voter_id).name, v.hours) for v in found
            ]
    session_.commit()  # expired votes are gone
    return render_template(
        "moderate_moderators.html",
        moderators=everyone,
        proposals=proposals,
        me=g.moderator,
        form=SuspendForm(formdata=None),
        max_hours=suspension.MAX_REVERT_HOURS,
    )


@bp.post("/moderators/<int:moderator_id>/suspend")
@login_required
def suspend(moderator_id: int):  # noqa: ANN201
    """Propose, or confirm another moderator's proposal, to suspend this moderator and
    revert their actions of the last hours."""
    form = checked(SuspendForm)
    session_ = db.session()
    target = session_.get(Moderator, moderator_id)
    if target is None:
        abort(404, _l("No such moderator."))
    if form.errors:
        abort(422, " ".join(str(e) for e in form.hours.errors))
    try:
        outcome = suspension.vote(session_, g.moderator, target, form.hours.data)
    except lifecycle.Refused as error:
        abort(409, error.message)
    if outcome.done:
        flash(
            _(
                "%(name)s is suspended: every session of theirs has ended. Rallies put back as "
                "they were: %(count)d.",
                name=target.name,
                count=len(outcome.reverted),
            )
        )
    else:
        flash(
            _(
                "Your proposal to suspend %(name)s is recorded (%(count)d of %(needed)d). "
                "Another moderator must confirm it.",
                name=target.name,
                count=outcome.count,
                needed=outcome.needed,
            )
        )
    return redirect(url_for("moderators.moderators"), code=303)


@bp.post("/rallies/<int:rally_id>/reports/handled")
@login_required
def reports_handled(rally_id: int):  # noqa: ANN201
    """Mark the rally's visitors' reports handled (one step: it changes nothing public)."""
    checked(ActionForm)
    found = load(rally_id)
    session_ = db.session()
    count = reports.mark_handled(session_, found.id, g.moderator.name)
    lifecycle.audit(session_, f"moderator:{g.moderator.name}", "reports_handled", found, str(count))
    session_.commit()
    flash(_("%(title)s: the visitors' reports are marked handled.", title=named(found)))
    return redirect(url_for("moderate.rally", rally_id=found.id), code=303)
