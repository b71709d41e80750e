"""Moderators: log in, work through the queue, approve, reject, edit or cancel rallies."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache, wraps
from urllib.parse import parse_qsl, urlencode

from babel.units import format_unit
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
from flask_babel import ngettext
from sqlalchemy import Select, func, or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from mapapp.domain import db, lifecycle, reports
from mapapp.domain.filters import BadFilter, RallyFilter, parse_filter
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import PUBLIC_STATUSES, AuditEntry, Moderator, Rally, Status, utcnow
from mapapp.places.locale import MINSK
from mapapp.publishing.geojson import feature_collection
from mapapp.publishing.public import MAX_ID
from mapapp.web import accounts, twofactor
from mapapp.web.forms import (
    ActionForm,
    BulkForm,
    LoginForm,
    ModeratorDangerForm,
    RallyForm,
    RejectForm,
    csrf,
    locate,
    rally_fields,
)
from mapapp.web.i18n import current_language, local_datetime, without_direction_controls
from mapapp.web.mapshells import map_shell
from mapapp.web.urls import external_url

bp = Blueprint("moderate", __name__, url_prefix="/moderate")


@cache
def dummy_hash() -> str:
    """Checked when the name is unknown, so a wrong name takes as long as a wrong password."""
    return generate_password_hash("not a password")


def current_moderator() -> Moderator | None:
    """The moderator of this session, unless the session was ended (its epoch is old), the
    moderator is suspended, or a second factor is required and they have none yet."""
    moderator_id = session.get("moderator_id")
    if moderator_id is None:
        return None
    moderator = db.session().get(Moderator, moderator_id)
    if moderator is None or session.get("epoch") != moderator.session_epoch:
        return None
    if moderator.suspended_at is not None:
        return None  # suspended by two moderators: every session ends at once
    if twofactor.required() and not moderator.totp_enabled:
        return None  # opened before the factor was required: log in again and set it up
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
            if moderator.suspended_at is not None:
                form.password.errors.append(
                    _("This account is suspended by two moderators. The operator can reinstate it.")
                )
                return make_response(render_template("moderate_login.html", form=form), 403)
            device = accounts.known_device(moderator)
            session.clear()
            # Only a moderation page of this site, under whatever prefix the site has.
            next_path = accounts.safe_next(request.args.get("next"))
            target = request.script_root + next_path if next_path else url_for("moderate.queue")
            if moderator.totp_enabled or twofactor.required():
                # The password is right; the second factor (or its set-up) comes next. Until
                # then the session opens no moderation page (login_required reads moderator_id).
                session["half_id"] = moderator.id
                session["half_epoch"] = moderator.session_epoch
                session["half_at"] = int(utcnow().timestamp())
                session["half_next"] = target
                step = "moderators.code" if moderator.totp_enabled else "moderators.account"
                response = redirect(url_for(step), code=303)
            else:
                start_session(moderator)
                response = redirect(target, code=303)
            accounts.remember_device(response, moderator, device)
            return response
        accounts.record_failure(session_, form.name.data, moderator)
        form.password.errors.append(_("Wrong name or password."))
        status = 401
    elif request.method == "POST":
        status = 400 if "csrf_token" in form.errors else 422
    return make_response(render_template("moderate_login.html", form=form), status)


def start_session(moderator: Moderator) -> None:
    """Log `moderator` in: the session carries their id and session epoch."""
    session.clear()
    session["moderator_id"] = moderator.id
    session["epoch"] = moderator.session_epoch
    session.permanent = True


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


@dataclass(frozen=True)
class Paging:
    """Page `number` (1 to `pages`) of a list of `size` items a page; the queue and the log."""

    number: int
    pages: int
    size: int

    @classmethod
    def of(cls, total: int, raw: str | None, size: int) -> Paging:
        """The page a `page` parameter asks for among `total` items (absent: the first).

        Raises BadFilter (a 400 with a message) for anything but a number from 1 to the last
        page: "²" and other digits int() refuses, a number of 5,000 digits, 0.
        """
        pages = max(1, -(-total // size))
        raw = raw or "1"
        if not (NUMBER.fullmatch(raw) and 1 <= int(raw) <= pages):
            raise BadFilter(_l("'page' must be a number from 1 to %(pages)s", pages=pages))
        return cls(int(raw), pages, size)

    @property
    def offset(self) -> int:
        """Items before this page."""
        return (self.number - 1) * self.size

    def shown(self, count: int) -> dict[str, int]:
        """The template's page, pages, first and last (1-based positions) for `count` shown."""
        return {
            "page": self.number,
            "pages": self.pages,
            "first": self.offset + 1,
            "last": self.offset + count,
        }


NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits: str.isdigit() takes "²" too
# Rallies a page of the queue shows: a phone scrolls through them; 500 waiting are 20 pages.
QUEUE_PAGE = 25
# What waits: everything, new rallies only, or organizers' edits of public rallies only.
QUEUE_STATES = ("all", "new", "changes")
# The query parameters that make a view of the queue (kept after every action).
QUEUE_ARGS = ("lang", "state", "region", "city", "from", "to", "q", "page")


class QueueView:
    """One view of the queue: its filters (region, town, dates, state), search and page."""

    def __init__(self, args: dict[str, str]) -> None:
        self.args = {name: args[name] for name in QUEUE_ARGS if args.get(name)}
        self.state = self.args.get("state", "all")
        if self.state not in QUEUE_STATES:
            raise BadFilter(
                _l(
                    "'%(name)s' must be one of: %(values)s",
                    name="state",
                    values=", ".join(QUEUE_STATES),
                )
            )
        self.filter: RallyFilter = parse_filter({**self.args, "when": "all"}, gazetteer())
        # NFC as stored: a "ў" typed as "у" and a combining breve finds the stored "ў".
        self.q = " ".join(unicodedata.normalize("NFC", self.args.get("q", "")).split())[:100]

    def query(self, columns: tuple = (Rally,)) -> Select:
        waits = or_(Rally.status == Status.PENDING.value, Rally.changes_pending.is_(True))
        query = select(*columns).where(waits)
        if self.state == "new":
            query = query.where(Rally.status == Status.PENDING.value)
        elif self.state == "changes":
            query = query.where(Rally.changes_pending.is_(True))
        query = self.filter.apply(query, utcnow())
        if self.q:
            like = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            matches = [
                column.ilike(like, escape="\\")
                for column in (Rally.title, Rally.town, Rally.place, Rally.description)
            ]
            if NUMBER.fullmatch(self.q.lstrip("#")):  # "#123"; not "²", which int() refuses
                matches.append(Rally.id == int(self.q.lstrip("#")))
            query = query.where(or_(*matches))
        # Oldest submission first: whoever waited longest is decided first.
        return query.order_by(None).order_by(Rally.created_at, Rally.id)

    def ids(self) -> list[int]:
        return list(db.session().scalars(self.query((Rally.id,))))

    def position_before(self, rally: Rally) -> int | None:
        """Where `rally` would stand in this view (the rallies before it count), so that after
        deciding it the view shows the rally that followed it."""
        before = (
            self.query((func.count(Rally.id),))
            .order_by(None)
            .where(
                or_(
                    Rally.created_at < rally.created_at,
                    (Rally.created_at == rally.created_at) & (Rally.id < rally.id),
                )
            )
        )
        return db.session().scalar(before)

    def page_args(self, page: int) -> dict[str, str]:
        return (
            {**self.args, "page": str(page)}
            if page > 1
            else {k: v for k, v in self.args.items() if k != "page"}
        )


def queue_view(raw: str | None) -> QueueView:
    """The view a form came from (its `back` field: the queue's query string), or the first page."""
    try:
        return QueueView(dict(parse_qsl(raw or "")[:20]))
    except BadFilter:
        return QueueView({})


def back_to_queue(view: QueueView, anchor_position: int | None) -> Response:
    """The same view of the queue, scrolled to the rally now at `anchor_position` (the one
    after those just decided), on whatever page it now is."""
    ids = view.ids()
    args = view.page_args(1)
    fragment = "#queue"
    if ids:
        position = min(anchor_position or 0, len(ids) - 1)
        args = view.page_args(position // QUEUE_PAGE + 1)
        fragment = f"#rally-{ids[position]}"
    return redirect(url_for("moderate.queue", **args) + fragment, code=303)


def named(rally: Rally) -> str:
    """A rally's title for a confirmation, in the page language's quotation marks («…» in
    Belarusian and Russian, “…” in English); its direction controls cannot turn the sentence."""
    opening, closing = ("\u201c", "\u201d") if current_language() == "en" else ("«", "»")
    return opening + without_direction_controls(rally.title) + closing


def approved_message(rally: Rally) -> str:
    if rally.status in PUBLIC_STATUSES and not rally.changes_pending:
        return _("Approved: %(title)s is on the map.", title=named(rally))
    return _("%(title)s: your approval is recorded.", title=named(rally))


@bp.get("")
@login_required
def queue():  # noqa: ANN201
    return render_queue(QueueView(request.args), BulkForm(formdata=None))


def render_queue(view: QueueView, bulk_form: BulkForm, status: int = 200):  # noqa: ANN201
    session_ = db.session()
    total = session_.scalar(view.query((func.count(Rally.id),)).order_by(None))
    paging = Paging.of(total, view.args.get("page"), QUEUE_PAGE)
    pending = list(session_.scalars(view.query().limit(paging.size).offset(paging.offset)))
    # What moderators decided (not imports, seeds or organizers' own cancels).
    last_decision = (
        select(AuditEntry.rally_id, func.max(AuditEntry.id).label("last"))
        .where(
            AuditEntry.actor.like("moderator:%"),
            AuditEntry.rally_id.is_not(None),
            AuditEntry.action != "new-manage-link",
        )
        .group_by(AuditEntry.rally_id)
        .subquery()
    )
    recent = session_.scalars(
        select(Rally)
        .join(last_decision, last_decision.c.rally_id == Rally.id)
        .where(Rally.status != Status.PENDING.value)
        .order_by(last_decision.c.last.desc())
        .limit(30)
    ).all()
    shell = map_shell("browse", "moderate.pending_geojson", "moderate.rally", credentials=True)
    g.csp_script_hashes = shell.script_hashes
    here = urlencode(view.page_args(paging.number))
    approvals = {rally.id: lifecycle.waiting_approvals(session_, rally) for rally in pending}
    page = render_template(
        "moderate.html",
        pending=pending,
        recent=recent,
        shell=shell,
        action_form=ActionForm(),
        bulk_form=bulk_form,
        view=view,
        here=here,
        total=total,
        **paging.shown(len(pending)),
        filter_towns=gazetteer().town_names(current_language()),
        approvals=approvals,
        queue_full=lifecycle.queue_full(session_),
        reported=reported_rallies(session_),
        waiting_dangers=lifecycle.waiting_dangers(session_),
        reports_full=reports.waiting_full(session_),
        pending_limit=current_app.config["PENDING_LIMIT"],
    )
    return make_response(page, status)


def reported_rallies(session_) -> list[tuple[Rally, int]]:  # noqa: ANN001
    """Rallies with visitors' reports not yet handled, and how many, most reported first."""
    counts = reports.open_counts(session_)
    found = {r.id: r for r in session_.scalars(select(Rally).where(Rally.id.in_(list(counts))))}
    return [(found[i], n) for i, n in counts.items() if i in found]


@bp.app_template_global()
def report_reason(code: str) -> str:
    """A visitor's report reason in the page's language."""
    return str(reports.REASONS.get(code, code))


@bp.post("/bulk")
@login_required
def bulk():  # noqa: ANN201
    """Several rallies at once, each through mapapp.domain.lifecycle like a single decision
    (its rules, one audit entry each): approve them, or reject them with one reason."""
    form = checked(BulkForm)
    view = queue_view(request.form.get("back"))
    if form.errors:
        return render_queue(view, form, 422)
    before = view.ids()
    chosen = [rally_id for rally_id in dict.fromkeys(form.ids.data)]
    positions = [before.index(i) for i in chosen if i in before]
    session_ = db.session()
    seen = seen_versions(request.form.getlist("seen"))
    done, refused_titles, waiting_titles = [], [], []
    for rally_id in chosen:
        found = session_.get(Rally, rally_id)
        if found is None:
            continue
        if form.decision.data == "approve":
            why = not_for_bulk(found, seen.get(rally_id))
            if why is not None:
                refused_titles.append(
                    _("Not changed: %(title)s: %(reason)s", title=named(found), reason=why)
                )
                continue
        try:
            # Through the approvals each action needs (MAPAPP_APPROVALS), as one at a time.
            decision = lifecycle.decide(
                session_, found, g.moderator, form.decision.data, form.reason.data or None
            )
        except lifecycle.Refused as error:
            session_.rollback()
            refused_titles.append(
                _("Not changed: %(title)s: %(reason)s", title=named(found), reason=error.message)
            )
            continue
        if decision.done:
            done.append(named(found))
        else:
            waiting_titles.append(waiting_message(found, decision))
    if done:
        titles = "; ".join(done)
        if form.decision.data == "approve":
            flash(
                ngettext(
                    "Approved %(num)d: %(titles)s.",
                    "Approved %(num)d: %(titles)s.",
                    len(done),
                    titles=titles,
                )
            )
        else:
            flash(
                ngettext(
                    "Rejected %(num)d: %(titles)s.",
                    "Rejected %(num)d: %(titles)s.",
                    len(done),
                    titles=titles,
                )
            )
    for message in [*waiting_titles, *refused_titles]:
        flash(message)
    return back_to_queue(view, min(positions) if positions else None)


def seen_versions(values: list[str]) -> dict[int, int]:
    """The queue page's "id:version" of each rally it showed (what the moderator saw)."""
    found = {}
    for value in values[:1000]:
        rally_id, _sep, version = value.partition(":")
        if NUMBER.fullmatch(rally_id) and NUMBER.fullmatch(version):
            found[int(rally_id)] = int(version)
    return found


def changed_since(found: Rally, seen: int | None) -> bool:
    """Whether the rally has a newer version than the page the moderator pressed on showed."""
    return seen is not None and seen != (found.sequence or 0)


def not_for_bulk(found: Rally, seen: int | None) -> str | None:
    """Why the bulk approve leaves this rally out (None: it may go with the others): a
    moderator changed what waits (it is approved one by one, after seeing the change), or
    the rally changed after the page was drawn."""
    change = lifecycle.moderator_changes(db.session(), found)
    if change is not None:
        return ngettext(
            "moderator %(names)s changed it: approve it on its own, after comparing the change "
            "with what the organizer sent.",
            "moderators %(names)s changed it: approve it on its own, after comparing the "
            "change with what the organizer sent.",
            len(change.editors),
            names=", ".join(change.editors),
        )
    if changed_since(found, seen):
        return str(STALE)
    return None


STALE = _l("it changed after this page was shown: look at it again before approving.")


@bp.app_template_global()
def offered(action: str, rally: Rally) -> bool:
    """Whether the rally's page offers a moderator's status action now: the state table
    allows it, and it says nothing of a place the public has not seen (`needs_shown_place`)."""
    allowed = lifecycle.allowed("moderator:", action, rally.status) is not None
    return allowed and not lifecycle.needs_shown_place(db.session(), rally, action)


@bp.app_template_global()
def moderator_changes(rally: Rally) -> lifecycle.ModeratorChange | None:
    """What moderators changed of a waiting rally (queue, the rally's page, the manage page)."""
    return lifecycle.moderator_changes(db.session(), rally)


@bp.app_template_global()
def change_value(name: str, value: object) -> str:
    """One field's value in a moderator's change as the page shows it."""
    if value is None or value == "":
        return _("at once") if name == "reveal_at" else "—"
    if isinstance(value, datetime):
        return local_datetime(value, "short")
    if name == "pin":
        return f"{float(value[0]):.5f}, {float(value[1]):.5f}"
    return str(value)


@bp.app_template_global()
def pin_moved(km: float) -> str:
    """How far a moderator moved the pin, as the page's language writes it: «метка
    перамешчана на 1,1 км»; metres under a kilometre (Babel's units: the locale's own
    decimal comma and unit)."""
    metres = round(km * 1000)
    lang = current_language()
    if metres < 1000:
        distance = format_unit(metres, "length-meter", length="short", locale=lang)
    else:
        distance = format_unit(
            km, "length-kilometer", length="short", format="#,##0.#", locale=lang
        )
    # A no-break space: "1,1" and "км" never on two lines.
    return _("pin moved %(distance)s", distance=distance.replace(" ", "\u00a0"))


@bp.app_template_global()
def change_field(name: str) -> str:
    """A field of a moderator's change in the page's language."""
    return str(CHANGE_NAMES.get(name, FIELD_NAMES.get(name, name)))


CHANGE_NAMES = {
    "reveal_at": _l("exact place shown from"),
    "pin": _l("pin"),
}


@bp.get("/pending.geojson")
@login_required
def pending_geojson() -> Response:
    return Response(feature_collection(waiting()), mimetype="application/geo+json")


def load(rally_id: int) -> Rally:
    # Past the database's integer no rally exists (and asking made SQLite and PostgreSQL raise).
    rally = db.session().get(Rally, rally_id) if 0 < rally_id <= MAX_ID else None
    if rally is None:
        abort(404, _l("No such rally."))
    return rally


@bp.get("/rallies/<int:rally_id>")
@login_required
def rally(rally_id: int):  # noqa: ANN201
    found = load(rally_id)
    return render_page(found, edit_form_of(found))


def edit_form_of(found: Rally) -> RallyForm:
    """The edit form as the rally is now."""
    form = RallyForm(obj=found, formdata=None)
    starts = found.starts_at.astimezone(MINSK)
    form.date.data, form.time.data = starts.date(), starts.time()
    form.show_reveal(lifecycle.reveal_choice(db.session(), found))
    return form


def render_page(  # noqa: ANN201
    found: Rally,
    form: RallyForm,
    status: int = 200,
    reject_form: RejectForm | None = None,
    danger_form: ModeratorDangerForm | None = None,
):
    """The rally's page; `reject_form` is the rejection just sent, with its errors (and
    `danger_form` a danger warning sent without its box ticked)."""
    history = (
        db.session()
        .scalars(select(AuditEntry).where(AuditEntry.rally_id == found.id).order_by(AuditEntry.at))
        .all()
    )
    session_ = db.session()
    if lifecycle.place_was_shown(session_, found):
        form.note_place_shown()
    # The pin on a small map: the map shell of a rally's page (no public feed to watch).
    shell = map_shell("single")
    g.csp_script_hashes = shell.script_hashes
    back = request.values.get("back", "")
    page = render_template(
        "moderate_rally.html",
        rally=found,
        waiting_approvals=lifecycle.waiting_approvals(session_, found),
        danger_by=lifecycle.danger_setters(session_, found),
        organizer_known=lifecycle.organizer_known(session_, found),
        me=g.moderator.name,
        published=lifecycle.published(db.session(), found),
        form=form,
        reject_form=reject_form or RejectForm(formdata=None),
        danger_form=danger_form or ModeratorDangerForm(formdata=None),
        lift_needs=lifecycle.required(session_, found, "clear_danger"),
        place_shown=lifecycle.place_was_shown(session_, found),
        change=lifecycle.moderator_changes(session_, found),
        action_form=ActionForm(),
        history=history,
        visitor_reports=(found_reports := reports.open_reports(session_, found.id)),
        report_counts=reports.reason_counts(found_reports),
        shell=shell,
        back=back,
        queue_url=url_for("moderate.queue", **queue_view(back).args),
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


def decided(found: Rally, message: str) -> Response:
    """Back to the view of the queue the moderator came from, at the rally that followed."""
    flash(message)
    view = queue_view(request.form.get("back"))
    return back_to_queue(view, view.position_before(found))


@bp.post("/rallies/<int:rally_id>/approve")
@login_required
def approve(rally_id: int):  # noqa: ANN201
    """Publish a pending rally, or an organizer's waiting edit of a public one."""
    checked()
    found = load(rally_id)
    # The version the page showed: the rally's page sends `version`, the queue (one form
    # for the page) its "id:version" of every rally it shows.
    seen = request.form.get("version", "")
    version = int(seen) if NUMBER.fullmatch(seen) else None
    if version is None:
        version = seen_versions(request.form.getlist("seen")).get(found.id)
    if changed_since(found, version):
        # Another moderator (or the organizer) changed it after this page was drawn: an
        # approval of a text the moderator has not seen is no check.
        abort(409, _l("This rally changed after the page was shown: look at it again."))
    try:
        decision = lifecycle.decide(db.session(), found, g.moderator, "approve")
    except lifecycle.Refused as error:
        refused(error)
    if decision.done:
        return decided(found, approved_message(found))
    return decided(found, waiting_message(found, decision))


def waiting_message(found: Rally, decision: lifecycle.Decision) -> str:
    """The approval is recorded; nothing public changed yet."""
    if decision.action == "danger":  # past the moderator's warnings alone (danger_needs)
        return ngettext(
            "%(title)s: one moderator may set %(num)d danger warning alone in an hour, so "
            "this one waits for another moderator: approved by %(count)d of %(needed)d. "
            "Nothing changes for the public until another moderator marks it dangerous too.",
            "%(title)s: one moderator may set %(num)d danger warnings alone in an hour, so "
            "this one waits for another moderator: approved by %(count)d of %(needed)d. "
            "Nothing changes for the public until another moderator marks it dangerous too.",
            current_app.config["DANGER_ALONE_PER_HOUR"],
            title=named(found),
            count=decision.count,
            needed=decision.needed,
        )
    return _(
        "%(title)s: your approval is recorded, approved by %(count)d of %(needed)d. Nothing "
        "changes for the public until another moderator approves too.",
        title=named(found),
        count=decision.count,
        needed=decision.needed,
    )


def rejection(rally_id: int, action: str, done: Callable[[str], str]):  # noqa: ANN201
    found = load(rally_id)
    form = checked(RejectForm)
    if form.errors:
        return render_page(found, edit_form_of(found), 422, reject_form=form)
    try:
        if action == "reject":
            decision = lifecycle.decide(db.session(), found, g.moderator, action, form.reason.data)
        else:  # discarding an organizer's waiting edit: the public keeps the approved version
            lifecycle.perform(db.session(), found, actor(), action, form.reason.data)
            decision = None
    except lifecycle.Refused as error:
        refused(error)
    if decision is not None and not decision.done:
        flash(waiting_message(found, decision))
        return redirect(url_for("moderate.rally", rally_id=found.id), code=303)
    return decided(found, done(named(found)))


@bp.post("/rallies/<int:rally_id>/reject")
@login_required
def reject(rally_id: int):  # noqa: ANN201
    """Reject a pending rally, or take down a public one (the organizer cannot undo it)."""
    return rejection(rally_id, "reject", lambda title: _("Rejected: %(title)s.", title=title))


@bp.post("/rallies/<int:rally_id>/reject-changes")
@login_required
def reject_changes(rally_id: int):  # noqa: ANN201
    """Discard an organizer's waiting edit; the published version stays."""
    return rejection(
        rally_id,
        "reject_changes",
        lambda title: _(
            "%(title)s: the changes are discarded; the approved version stays.", title=title
        ),
    )


# Status actions a moderator takes with one press, and what the page then says.
STATUS_ACTIONS = {
    "cancel": lambda title: _(
        "%(title)s is cancelled: the map, the list and the feeds show it as cancelled.",
        title=title,
    ),
    "danger": lambda title: _(
        "Danger is shown for %(title)s: everyone is told not to come.", title=title
    ),
    "clear_danger": lambda title: _("The danger warning is removed from %(title)s.", title=title),
    "move": lambda title: _(
        "%(title)s is marked as moved: everyone is told to check the new place.", title=title
    ),
    "restore": lambda title: _("%(title)s is on the map again.", title=title),
    "confirm_danger": lambda title: _(
        "You confirmed the danger warning of %(title)s.", title=title
    ),
    "trust_organizer": lambda title: _(
        "The organizer of %(title)s is known to the moderators: their next rallies need one "
        "approval fewer.",
        title=title,
    ),
    "untrust_organizer": lambda title: _(
        "The organizer of %(title)s is no longer marked as known.", title=title
    ),
}


@bp.post("/rallies/<int:rally_id>/cancel")
@login_required
def cancel(rally_id: int):  # noqa: ANN201
    return set_status(rally_id, "cancel")


@bp.post("/rallies/<int:rally_id>/status/<action>")
@login_required
def set_status(rally_id: int, action: str):  # noqa: ANN201
    """One status action of the state table (danger, clear_danger, move, restore, cancel),
    or confirming another moderator's danger warning; through the approvals it needs."""
    if action not in STATUS_ACTIONS:
        abort(404)
    found = load(rally_id)
    if action == "danger":
        # A ticked box, as on the organizer's manage page: one stray tap warns nobody away.
        danger_form = checked(ModeratorDangerForm)
        if danger_form.errors:
            return render_page(found, edit_form_of(found), 422, danger_form=danger_form)
    else:
        checked()
    try:
        decision = lifecycle.decide(db.session(), found, g.moderator, action)
    except lifecycle.Refused as error:
        refused(error)
    if decision.done:
        flash(STATUS_ACTIONS[action](named(found)))
    else:
        flash(waiting_message(found, decision))
    return redirect(url_for("moderate.rally", rally_id=found.id), code=303)


@bp.post("/rallies/<int:rally_id>/edit")
@login_required
@csrf.exempt  # the form checks its token; a stale one shows the edits again, not a bare 400
def edit(rally_id: int):  # noqa: ANN201
    found = load(rally_id)
    try:  # before the reveal time below is saved: nothing of the edit happens
        lifecycle.refuse_cancelled_edit(db.session(), found, actor())
    except lifecycle.Refused as error:
        refused(error)
    form = RallyForm()
    if not form.validate():
        return render_page(found, form, 400 if "csrf_token" in form.errors else 422)
    seen = request.form.get("version", "")
    if NUMBER.fullmatch(seen) and changed_since(found, int(seen)):
        # The organizer (or another moderator) saved it after this form was drawn: saved,
        # the fields the moderator left alone would put back what they replaced (a place
        # the police knew, say). What was typed stays in the form, beside the rally as now.
        form.title.errors.append(
            _("This rally changed after the page was shown: look at it again.")
        )
        return render_page(found, form, 409)
    lat, lon, geonameid = found.lat, found.lon, found.geonameid
    point = form.point()
    if point is not None and point != (found.lat, found.lon):
        # The moderation page has no pin to drag and its form sends none: a pin here came
        # from a made-up request (a seized account's script, say), and moving only the pin,
        # the place's text left alone, is the quietest way to send people elsewhere. The
        # pin is the organizer's (their manage page); a moderator changes the place's text,
        # which is looked up again below and shown moved (`lifecycle.moderator_changes`).
        abort(400, _l("A moderator's edit does not move the pin: change the text of the place."))
    if (form.town.data, form.place.data or "") != (found.town, found.place):
        located = locate(form)
        if located is None:
            return render_page(found, form, 422)
        lat, lon, geonameid = located["lat"], located["lon"], located.get("geonameid")
    fields = rally_fields(form, lat, lon, geonameid)
    fields["contact"] = found.contact  # moderators don't retype the organizer's contact
    session_ = db.session()
    try:
        lifecycle.set_reveal(
            session_, found, fields["reveal_at"], actor(),
            new_place=lifecycle.gives_new_place(session_, found, fields),
            before_start=form.reveal_before(),
        )  # fmt: skip
        lifecycle.edit(session_, found, fields, actor())
    except lifecycle.RevealRefused as error:
        session_.rollback()
        form.reveal.errors.append(str(error.message))
        return render_page(found, form, 422)
    except lifecycle.Refused as error:
        refused(error)
    if found.changes_pending and lifecycle.published(session_, found) is not None:
        flash(
            _(
                "Saved: %(title)s. The changes are public once another moderator approves them.",
                title=named(found),
            )
        )
    else:
        flash(_("Saved: %(title)s.", title=named(found)))
    return redirect(url_for("moderate.rally", rally_id=found.id), code=303)


@bp.post("/rallies/<int:rally_id>/manage-link")
@login_required
def new_manage_link(rally_id: int):  # noqa: ANN201
    """A new manage link for an organizer who lost theirs, when MAPAPP_APPROVALS moderators
    pressed it: the old one stops working. Shown once, to the last of them, on this answer
    (never stored, never redirected through the session)."""
    checked()
    found = load(rally_id)
    decision, token = lifecycle.decide_manage_link(db.session(), found, g.moderator)
    if token is None:  # one approval of MAPAPP_APPROVALS: nobody has a link yet
        flash(waiting_message(found, decision))
        return redirect(url_for("moderate.rally", rally_id=found.id), code=303)
    link = external_url("submit.manage", token=token)
    return render_template("moderate_link.html", rally=found, link=link)


# The audit log's actions in the page's language (mapapp.domain.lifecycle writes the codes).
ACTION_NAMES = {
    "submit": _l("submitted"),
    "import": _l("imported, waiting for a moderator"),
    "import_approved": _l("imported and published"),
    "edit": _l("edited"),
    "reveal": _l("time the exact place is shown set"),
    "approve": _l("approved"),
    "approve_changes": _l("changes approved"),
    "approve_move": _l("changes approved: a new place"),
    "reject": _l("rejected or taken down"),
    "reject_changes": _l("changes rejected"),
    "cancel": _l("cancelled"),
    "danger": _l("marked as dangerous"),
    "clear_danger": _l("danger warning removed"),
    "move": _l("marked as moved"),
    "restore": _l("shown again (not cancelled)"),
    "new-manage-link": _l("new manage link made"),
    "purge-contact": _l("contact forgotten after the rally"),
    "purge-texts": _l("texts of a rejected rally deleted"),
    "confirm_danger": _l("danger warning confirmed"),
    "trust_organizer": _l("organizer marked as known"),
    "untrust_organizer": _l("organizer no longer marked as known"),
    "revert": _l("put back as before a suspended moderator's action"),
    "propose_suspension": _l("proposed to suspend a moderator"),
    "suspend_moderator": _l("suspended a moderator"),
    "reinstate_moderator": _l("moderator reinstated by the operator"),
    "second_factor_on": _l("second factor turned on"),
    "new_recovery_codes": _l("new recovery codes made"),
    "reset_second_factor": _l("second factor reset by the operator"),
    "reports_handled": _l("visitors' reports marked handled"),
}
ACTOR_NAMES = {
    "organizer": _l("the organizer"),
    "system": _l("the site, automatically"),
    "import": _l("an import by the operator"),
    "seed": _l("the seed rallies"),
    "demo-data": _l("demo data"),
}


@bp.app_template_global()
def action_name(action: str) -> str:
    """An audit action in the page's language; "approval:<action>" is one moderator's approval
    of an action that needs more (MAPAPP_APPROVALS)."""
    if action.startswith("approval:"):
        wanted = action.removeprefix("approval:")
        return _("approval recorded (%(action)s)", action=ACTION_NAMES.get(wanted, wanted))
    return str(ACTION_NAMES.get(action, action))


@bp.app_template_global()
def actor_name(actor: str) -> str:
    kind, _sep, name = actor.partition(":")
    if kind == "moderator" and name:
        return _("moderator %(name)s", name=name)
    return str(ACTOR_NAMES.get(actor, actor))


LOG_PAGE = 50


@bp.get("/log")
@login_required
def log():  # noqa: ANN201
    """The audit log: who did what to which rally, newest first; by moderator, action, dates."""
    args = request.args
    session_ = db.session()
    names = list(session_.scalars(select(Moderator.name).order_by(Moderator.name)))
    query = select(AuditEntry, Rally.title).outerjoin(Rally, Rally.id == AuditEntry.rally_id)
    who = args.get("moderator") or ""
    if who:
        # In any case and script, as the queue's search ("АЛЕСЬ" is Алесь).
        who = next((name for name in names if name.lower() == who.lower()), None)
        if who is None:
            raise BadFilter(_l("No moderator of that name."))
        query = query.where(AuditEntry.actor == f"moderator:{who}")
    action = args.get("action") or ""
    if action:
        if action not in ACTION_NAMES:
            raise BadFilter(
                _l(
                    "'%(name)s' must be one of: %(values)s",
                    name="action",
                    values=", ".join(ACTION_NAMES),
                )
            )
        query = query.where(AuditEntry.action == action)
    rally_id = args.get("rally") or ""
    if rally_id:
        number = rally_id.isascii() and rally_id.isdigit() and len(rally_id) <= 10
        if not number or int(rally_id) > MAX_ID:
            raise BadFilter(_l("'%(name)s' must be a whole number", name="rally"))
        query = query.where(AuditEntry.rally_id == int(rally_id))
    # The dates are Minsk days, as everywhere (the shared filter's from/to).
    dates = parse_filter({"when": "all", "from": args.get("from"), "to": args.get("to")})
    if dates.date_from:
        query = query.where(AuditEntry.at >= datetime.combine(dates.date_from, time(), MINSK))
    if dates.date_to:
        next_day = datetime.combine(dates.date_to + timedelta(days=1), time(), MINSK)
        query = query.where(AuditEntry.at < next_day)
    total = session_.scalar(select(func.count()).select_from(query.subquery()))
    paging = Paging.of(total, args.get("page"), LOG_PAGE)
    entries = session_.execute(
        query.order_by(AuditEntry.id.desc()).limit(paging.size).offset(paging.offset)
    ).all()
    kept = {
        name: args[name]
        for name in ("lang", "moderator", "action", "rally", "from", "to")
        if args.get(name)
    }
    return render_template(
        "moderate_log.html",
        entries=entries,
        names=names,
        actions=ACTION_NAMES,
        kept=kept,
        dates=dates,
        total=total,
        **paging.shown(len(entries)),
    )


FIELD_NAMES = {
    "title": _l("title"),
    "description": _l("description"),
    "town": _l("town"),
    "place": _l("place"),
    "region": _l("region"),
    "geonameid": _l("town"),
    "lat": _l("pin"),
    "lon": _l("pin"),
    "starts_at": _l("start"),
    "ends_at": _l("end"),
}


@bp.app_template_global()
def audit_detail(entry: AuditEntry) -> str:
    """An entry's detail in the page's language: the fields an edit changed, a reveal's time;
    a reason a moderator typed stays as typed."""
    if not entry.detail:
        return ""
    if entry.action in ("edit", "move"):
        names = [str(FIELD_NAMES.get(name, name)) for name in entry.detail.split(", ")]
        return ", ".join(dict.fromkeys(names))
    if entry.action == "reveal":
        if entry.detail == "now":
            return _("at once")
        try:
            return local_datetime(datetime.fromisoformat(entry.detail), "short")
        except ValueError:
            return entry.detail
    return entry.detail
