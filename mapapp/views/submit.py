"""Organizers: submit a rally (no account), preview its pin, and manage it by link."""

from __future__ import annotations

import base64
import re
import time
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
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
from flask_limiter.errors import RateLimitExceeded
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import ServiceUnavailable

from mapapp.domain import contacts, db, lifecycle, rules
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import Rally, utcnow
from mapapp.places.index import distance_km
from mapapp.places.locale import MINSK
from mapapp.web.errors import handle_http_error, too_many_text
from mapapp.web.forms import (
    SAME_TOWN_KM,
    ActionForm,
    CancelForm,
    DangerForm,
    RallyForm,
    csrf,
    locate,
    rally_fields,
)
from mapapp.web.i18n import current_language
from mapapp.web.keyed import keyed_hash
from mapapp.web.limits import limiter, retry_seconds
from mapapp.web.mapshells import pin_shell
from mapapp.web.urls import external_url

bp = Blueprint("submit", __name__)


@bp.app_template_global()
def can(actor: str, action: str, rally: Rally) -> bool:
    """Whether the state table allows `action` by `actor` on the rally now (for buttons)."""
    return lifecycle.allowed(actor, action, rally.status) is not None


@bp.app_template_global()
def place_hints(rally: Rally) -> list[str]:
    """Words of a rally's title and description that may give its place away while the place
    is hidden (empty once it shows, or when it was never hidden): for the organizer's and the
    moderators' pages."""
    if rally.reveal_at is None or rally.reveal_at <= utcnow():
        return []
    return rules.locating_hints(rally.description, rally.place, rally.title)


@bp.app_template_global()
def state_name(state: str) -> str:
    return str(lifecycle.STATE_NAMES.get(state, state))


# What a submission key looks like (lifecycle.new_token: 24 random bytes, URL-safe).
SUBMISSION_KEY = re.compile(r"[A-Za-z0-9_-]{32}")


def submit_limit() -> str:
    return current_app.config["SUBMIT_LIMIT"]


def submit_try_limit() -> str:
    return current_app.config["SUBMIT_TRY_LIMIT"]


def not_final_send() -> bool:
    """A preview, a correction or a town choice: not the final "Send to moderators"."""
    return request.form.get("step") != "confirm"


@bp.errorhandler(RateLimitExceeded)
def too_many(error: RateLimitExceeded):  # noqa: ANN201
    """429 on the organizer's forms: the form again, with everything typed and the real wait
    (other limited posts get the error page, which says the wait too)."""
    if request.method == "POST" and request.endpoint in ("submit.submit", "submit.manage_edit"):
        form = rally_form()
        form.validate()  # fills the fields from what was posted; errors are not the point
        for field in form:
            field.errors = []
        notice = too_many_text()
        wait = retry_seconds()
        if request.endpoint == "submit.submit":
            response = render_form(form, status=429, too_many=notice)
        else:
            token = (request.view_args or {}).get("token", "")
            response = render_manage(form, rally_for(token), token, status=429, too_many=notice)
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response
    return handle_http_error(error)


def private(response: Response, index: bool = False) -> Response:
    """Pages with a form or a manage token: never cached; only the empty form is indexed."""
    response.headers["Cache-Control"] = "no-store"
    if not index:
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def render_form(form: RallyForm, template: str = "submit.html", status: int = 200, **context):  # noqa: ANN003, ANN201
    towns = gazetteer().town_names(current_language())
    if template in ("submit.html", "submit_preview.html"):
        context.setdefault("submission", submission_key())
    page = render_template(template, form=form, towns=towns, **context)
    return private(
        make_response(page, status), index=request.method == "GET" and template == "submit.html"
    )


@bp.app_template_global()
def pin_for(form: RallyForm) -> str:
    """The town and place text a pin was placed for: a pin sent back with other text is not
    kept (the person typed another place)."""
    return " ".join(f"{form.town.data or ''} | {form.place.data or ''}".split()).casefold()


def rally_form(**kwargs: Any) -> RallyForm:
    """The organizer's form; without a way to keep contacts safe, it has no contact field."""
    form = RallyForm(**kwargs)
    if not contacts.accepting():
        del form.contact  # what a client posts there anyway is never read
    return form


def form_errors_status(form: RallyForm) -> int:
    # A missing or stale CSRF token is a bad request; anything else the person can fix.
    return 400 if "csrf_token" in form.errors else 422


@bp.route("/submit", methods=["GET", "POST"])
# Only the final send counts toward SUBMIT_LIMIT; previews, corrections and town choices (someone
# trying spellings of a village) toward the looser SUBMIT_TRY_LIMIT.
@limiter.limit(submit_limit, methods=["POST"], exempt_when=not_final_send, scope="submit-send")
@limiter.limit(submit_try_limit, methods=["POST"], exempt_when=lambda: not not_final_send(), scope="submit-try")  # fmt: skip
@csrf.exempt  # the form checks its token and, when it is stale, shows everything typed again
def submit():  # noqa: ANN201
    form = rally_form()
    if request.method == "GET":
        return render_form(form)
    if form.website.data:
        abort(400, _l("This form could not be accepted."))
    if not form.validate():
        return render_form(form, status=form_errors_status(form))
    step = request.form.get("step", "preview")
    if step == "edit":
        return render_form(form)
    point = form.point() if step == "confirm" else None
    if point is None:
        pick = request.form.get("pick")
        found = locate(form, pick)
        if found is None:
            return render_form(form, status=422)
        point = (found["lat"], found["lon"])
        # The form came back (a 429, a 422, a stale token, "Change the details") with the pin
        # the person had dragged: it stays where they left it while the town and the place
        # text are those it was dragged for; new text starts again from the geocoder's answer.
        kept = form.point()
        if (
            kept is not None
            and not pick
            and request.form.get("pin_for") == pin_for(form)
            and form.geonameid.data == str(found.get("geonameid") or "")
            and gazetteer().reverse(*kept) is not None
        ):
            point = kept
        form.lat.data, form.lon.data = str(point[0]), str(point[1])
        form.geonameid.data = str(found.get("geonameid") or "")
        if step != "confirm":
            shell = pin_shell()
            g.csp_script_hashes = shell.script_hashes
            return render_form(form, "submit_preview.html", found=found, shell=shell)
    if gazetteer().reverse(*point) is None:
        form.place.errors.append(
            _("The pin is outside Belarus: move it to the place of the rally.")
        )
        return render_form(form, status=422)
    raw_id = form.geonameid.data or ""
    geonameid = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9 else None
    token = submission_key()
    if lifecycle.by_token(db.session(), token) is None:
        try:
            lifecycle.submit(
                db.session(),
                rally_fields(form, *point, geonameid),
                token=token,
                organizer_key=session.get("organizer_key"),
            )
        except lifecycle.QueueFull:
            raise ServiceUnavailable(QUEUE_FULL_TEXT, retry_after=3600) from None
        except IntegrityError:
            db.session().rollback()
            if lifecycle.by_token(db.session(), token) is None:
                raise  # not the same form sent twice at once: a real failure
            # else the same form, sent twice at once: the other request stored it
    # Sent again (a retry, Back and send): the same rally and the same link, not a second one.
    keep_manage_link(token)
    return redirect(url_for("submit.done"), code=303)


QUEUE_FULL_TEXT = _l(
    "Too many rallies are waiting for moderators right now. Please try again in an hour: "
    "go back, and what you wrote is still in the form."
)


@bp.post("/manage/<token>/another")
@limiter.limit(submit_limit)
def manage_another(token: str):  # noqa: ANN201
    """ "Submit another rally": the new rally is this organizer's too, so if the moderators
    know them (checked outside the site), it needs one approval fewer. The key goes into
    this browser's signed session, never into a URL."""
    if not ActionForm().validate():
        abort(400, _l("The form has expired. Reload the page and try again."))
    rally = rally_for(token)
    session_ = db.session()
    session["organizer_key"] = lifecycle.organizer_key_of(session_, rally)
    session_.commit()
    return redirect(url_for("submit.submit"), code=303)


def submission_key() -> str:
    """The key that makes the confirm step count once: made at the first preview, carried
    in the form, and then the rally's manage token (so a second post finds the rally)."""
    key = request.form.get("submission", "")
    return key if SUBMISSION_KEY.fullmatch(key) else lifecycle.new_token()


# How long the page after sending shows the manage link again in the same browser: a reload,
# or Android bringing back a tab it discarded while the organizer pasted the link in Telegram.
# The same on the server (the session cookie, for browsers without JavaScript) and in
# managelink.js (this tab's sessionStorage); submit_done.html says the number.
KEEP_LINK_MINUTES = 15


def clock() -> float:
    return time.time()


def link_cipher() -> Fernet | MultiFernet:
    """What seals the manage token in the session cookie: the cookie is only signed, so
    without this anyone who reads it (a copy of the browser's profile, a proxy's log of
    headers) would read the token. The contact key when one is set, else one derived from
    the hash key, which is never on disk (a restart then forgets a link kept this way)."""
    found = contacts.cipher()
    if found is not None:
        return found
    derived = bytes.fromhex(keyed_hash("manage-link", "seal"))
    return Fernet(base64.urlsafe_b64encode(derived))


def keep_manage_link(token: str) -> None:
    """Keep the new rally's manage token, sealed, in this browser's session cookie for
    KEEP_LINK_MINUTES (Fernet's own timestamp dates it)."""
    sealed = link_cipher().encrypt_at_time(token.encode(), int(clock()))
    session["manage_link"] = sealed.decode("ascii")


def kept_manage_token() -> tuple[str, int] | None:
    """The token kept by keep_manage_link and the seconds it is kept still, while it is
    fresh; forgotten once it is not."""
    sealed = session.get("manage_link")
    if not isinstance(sealed, str):
        return None
    cipher, now = link_cipher(), int(clock())
    try:
        token = cipher.decrypt_at_time(sealed.encode("ascii"), KEEP_LINK_MINUTES * 60, now)
        made = cipher.extract_timestamp(sealed.encode("ascii"))
    except (InvalidToken, ValueError):
        session.pop("manage_link", None)
        return None
    return token.decode(), max(1, made + KEEP_LINK_MINUTES * 60 - now)


@bp.get("/submit/done")
def done():  # noqa: ANN201
    kept = kept_manage_token()
    link = external_url("submit.manage", token=kept[0]) if kept else None
    page = render_template(
        "submit_done.html",
        link=link,
        left=kept[1] if kept else KEEP_LINK_MINUTES * 60,
        minutes=KEEP_LINK_MINUTES,
        action_form=ActionForm(),
    )
    return private(make_response(page))


@bp.post("/submit/done/forget")
def forget_link():  # noqa: ANN201
    """ "I saved it": the manage link is no longer kept in this browser (a shared computer)."""
    if not ActionForm().validate():
        abort(400, _l("The form has expired. Reload the page and try again."))
    session.pop("manage_link", None)
    return redirect(url_for("submit.done", forgotten=1), code=303)


def rally_for(token: str) -> Rally:
    rally = lifecycle.by_token(db.session(), token)
    if rally is None:
        abort(404, _l("This manage link is not valid. Check that you copied all of it."))
    return rally


def refused(error: lifecycle.Refused) -> None:
    """A change the state table does not allow: 409 with its translated reason."""
    abort(409, error.message)


# A manage link is opened by a person, never by whatever fetches its URL. A link sent to one's
# own Telegram or pasted into a chat is fetched by the chat's preview server (Telegram's,
# WhatsApp's, Matrix's Synapse, Rocket.Chat's…), and scripts and crawlers fetch what they find;
# no list of User-Agents names them all, and real browsers carry any word in theirs (Viber's,
# okhttp). So GET /manage/<token> alone shows nothing of the rally, whoever asks: a page with a
# button, "Open my rally", that POSTs (with the CSRF token) to /manage/<token>/open. That sets
# OPEN_COOKIE, signed and bound to this token, for OPEN_MINUTES, and sends the browser back to
# the GET, which then shows the manage page. A browser with JavaScript presses it at once
# (static/manage-open.js), so a person sees no extra step; without JavaScript it is one tap.
# Preview fetchers neither run scripts nor post forms. The cookie is HttpOnly, SameSite=Strict
# (a link tapped in another app is one more pass through the button, made by the script) and
# sent only to this token's own paths; every form of the manage page renews it, so an
# organizer lands on the full page again after saving.
OPEN_COOKIE = "mapapp_manage"
OPEN_MINUTES = 30


def open_signer(token: str) -> URLSafeTimedSerializer:
    # The salt binds the cookie to the token: it holds a date and a signature, nothing of the
    # token (which only its Path names).
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"manage-open {token}")


def manage_path(token: str) -> str:
    """The manage link's path (under the site's prefix), without ?lang=."""
    return urlsplit(url_for("submit.manage", token=token, lang=None)).path


def opened_here(token: str) -> bool:
    """This browser opened this manage link through the button, less than OPEN_MINUTES ago."""
    for raw in request.cookies.getlist(OPEN_COOKIE):
        try:
            open_signer(token).loads(raw, max_age=OPEN_MINUTES * 60)
        except BadSignature:
            continue
        return True
    return False


def keep_open(response: Response, token: str) -> Response:
    """Let this browser see the manage page of `token` for OPEN_MINUTES (from now)."""
    response.set_cookie(
        OPEN_COOKIE,
        open_signer(token).dumps(1),
        max_age=OPEN_MINUTES * 60,
        path=manage_path(token),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Strict",
    )
    return response


def back_to_manage(token: str) -> Response:
    """After one of the manage page's forms: the full page again, with no second tap."""
    return keep_open(redirect(url_for("submit.manage", token=token), code=303), token)


@bp.get("/manage/<token>")
@limiter.limit("60 per minute")
def manage(token: str):  # noqa: ANN201
    if not opened_here(token):
        # The same page whatever the token: nothing says whether the link is valid either.
        page = render_template("manage_open.html", token=token, action_form=ActionForm())
        return private(make_response(page))
    rally = rally_for(token)
    form = rally_form(obj=rally, formdata=None)
    fill_times(form, rally)
    return render_manage(form, rally, token)


@bp.post("/manage/<token>/open")
@limiter.limit("60 per minute")
def manage_open(token: str):  # noqa: ANN201
    """ "Open my rally" (pressed by the page's script, or by hand without JavaScript)."""
    if not ActionForm().validate():
        abort(400, _l("The form has expired. Reload the page and try again."))
    rally_for(token)  # a link that is not valid (any more) says so now, and opens nothing
    return back_to_manage(token)


def fill_times(form: RallyForm, rally: Rally) -> None:
    """The stored start and reveal times into the form's fields (Minsk time)."""
    starts = rally.starts_at.astimezone(MINSK)
    form.date.data, form.time.data = starts.date(), starts.time()
    form.show_reveal(lifecycle.reveal_choice(db.session(), rally))


def render_manage(
    form: RallyForm,
    rally: Rally,
    token: str,
    status: int = 200,
    cancel_form: CancelForm | None = None,
    danger_form: DangerForm | None = None,
    too_many: str | None = None,
):  # noqa: ANN201
    """The organizer's page: the rally's state, the danger button, the edit and cancel forms,
    and the pin map of the edit form (the stored pin unless the form brought another)."""
    shell = None
    if lifecycle.place_was_shown(db.session(), rally):
        form.note_place_shown()
    if lifecycle.allowed(lifecycle.ORGANIZER, "edit", rally.status) is not None:
        if form.point() is None:
            form.lat.data, form.lon.data = str(rally.lat), str(rally.lon)
        shell = pin_shell()
        g.csp_script_hashes = shell.script_hashes
    return render_form(
        form,
        "manage.html",
        status=status,
        rally=rally,
        token=token,
        shell=shell,
        action_form=ActionForm(),
        cancel_form=cancel_form or CancelForm(formdata=None),
        danger_form=danger_form or DangerForm(formdata=None),
        too_many=too_many,
    )


@bp.post("/manage/<token>/edit")
@limiter.limit(submit_limit)
@csrf.exempt  # as submit: a stale token shows the form again with the typed text
def manage_edit(token: str):  # noqa: ANN201
    rally = rally_for(token)
    form = rally_form()
    try:
        lifecycle.transition(rally, lifecycle.ORGANIZER, "edit")
    except lifecycle.Refused as error:
        refused(error)
    if form.website.data:
        abort(400, _l("This form could not be accepted."))
    if not form.validate():
        return render_manage(form, rally, token, status=form_errors_status(form))
    # The pin the organizer left on the map (the stored one if the form brought none). A new
    # place text alone never moves it: only the pin says where; a new town puts it at that
    # town (or its named place) unless the pin was already moved there.
    lat, lon = form.point() or (rally.lat, rally.lon)
    geonameid = rally.geonameid
    pin_moved = distance_km(lat, lon, rally.lat, rally.lon) > 0.001
    pick = request.form.get("pick")
    if form.town.data != rally.town or pick:
        found = locate(form, pick)
        if found is None:
            return render_manage(form, rally, token, status=422)
        if found.get("geonameid") != rally.geonameid:  # another town, not another spelling
            geonameid = found.get("geonameid")
        if geonameid == rally.geonameid:
            pass
        elif not pin_moved or distance_km(lat, lon, found["lat"], found["lon"]) > SAME_TOWN_KM:
            lat, lon = found["lat"], found["lon"]
            flash(_("The pin is now at the new town: check it on the map below."))
    if gazetteer().reverse(lat, lon) is None:
        form.place.errors.append(
            _("The pin is outside Belarus: move it to the place of the rally.")
        )
        return render_manage(form, rally, token, status=422)
    fields = rally_fields(form, lat, lon, geonameid)
    session_ = db.session()
    try:
        # The reveal time adds no text: it applies at once, to the published version too.
        revealed = lifecycle.set_reveal(
            session_, rally, fields["reveal_at"], lifecycle.ORGANIZER,
            new_place=lifecycle.gives_new_place(session_, rally, fields),
            before_start=form.reveal_before(),
        )  # fmt: skip
        changed = lifecycle.edit(session_, rally, fields, lifecycle.ORGANIZER)
    except lifecycle.RevealRefused as error:
        session_.rollback()
        form.reveal.errors.append(str(error.message))
        return render_manage(form, rally, token, status=422)
    except lifecycle.Refused as error:
        refused(error)
    if [name for name in changed if name != "contact"]:
        flash(_("Saved. Moderators will look at the change before it shows on the map."))
        if "starts_at" in changed and rally.reveal_at is not None and rally.changes_pending:
            # lifecycle.public_reveal: the public's reveal follows the start the public sees.
            flash(
                _(
                    "Until moderators approve the new start time, the place is shown as planned"
                    " for the approved start time."
                )
            )
    elif changed or revealed:
        flash(_("Saved."))
    else:
        flash(_("Nothing was changed."))
    return back_to_manage(token)


@bp.post("/manage/<token>/cancel")
@limiter.limit(submit_limit)
def manage_cancel(token: str):  # noqa: ANN201
    rally = rally_for(token)
    form = CancelForm()
    if not form.validate():
        if "csrf_token" in form.errors:
            abort(400, _l("The form has expired. Reload the page and try again."))
        edit_form = rally_form(obj=rally, formdata=None)
        fill_times(edit_form, rally)
        return render_manage(edit_form, rally, token, status=422, cancel_form=form)
    try:
        state = lifecycle.cancel_by_organizer(db.session(), rally)
    except lifecycle.Refused as error:
        refused(error)
    if state == lifecycle.WITHDRAWN:
        flash(_("The rally is withdrawn. It was never shown to the public."))
    else:
        flash(
            _("The rally is cancelled. The map, the list and the feeds now show it as cancelled.")
        )
    return back_to_manage(token)


@bp.post("/manage/<token>/danger")
@limiter.limit(submit_limit)
def manage_danger(token: str):  # noqa: ANN201
    """Danger at once, with no moderation: it adds only a fixed, translated warning. A ticked
    box confirms it, since only a moderator can lift it."""
    rally = rally_for(token)
    form = DangerForm()
    if not form.validate():
        if "csrf_token" in form.errors:
            abort(400, _l("The form has expired. Reload the page and try again."))
        try:
            lifecycle.transition(rally, lifecycle.ORGANIZER, "danger")
        except lifecycle.Refused as error:
            refused(error)
        edit_form = rally_form(obj=rally, formdata=None)
        fill_times(edit_form, rally)
        return render_manage(edit_form, rally, token, status=422, danger_form=form)
    try:
        lifecycle.perform(db.session(), rally, lifecycle.ORGANIZER, "danger")
    except lifecycle.Refused as error:
        refused(error)
    flash(_("Everyone who looks at the rally now sees the warning: do not come."))
    return back_to_manage(token)
