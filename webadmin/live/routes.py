"""The live pages: the stream every live page follows, the wallboard, a supervisor's buttons."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import SelectChoice, SelectField

from live.actions import SupervisorAction, supervise
from models import User
from models.visibility import LiveScope, account_of, live_scope, visible_operators
from webadmin.auth.identity import sign_in_check
from webadmin.callflow.apply import ask_pbx, site_pbx
from webadmin.calls.queries import display_timezone
from webadmin.extensions import db
from webadmin.labels import PAUSE_REASONS, pause_reason
from webadmin.live import stream
from webadmin.live.hub import LiveHub
from webadmin.live.metrics import LIVE_CONNECTIONS
from webadmin.live.picture import FiguresCache, board_queues, viewer_floor
from webadmin.permissions import require, signed_in

bp = Blueprint("live", __name__, url_prefix="/live")

#: The largest event id (live_events ids are 64-bit).
MAX_EVENT_ID = 2**63 - 1
#: Seconds a stream's write may wait on a browser that does not read before it is dropped.
SEND_TIMEOUT = 30.0

ACTS = {
    "pause": SupervisorAction.PAUSE,
    "ready": SupervisorAction.UNPAUSE,
    "logout": SupervisorAction.LOG_OUT,
}


class OperatorPauseForm(FlaskForm):
    """A supervisor's pause: the reasons the workspace offers."""

    reason = SelectField(
        _l("Reason"),
        default="break",
        choices=[SelectChoice(value, words) for value, words in PAUSE_REASONS.items()],
    )


def hub() -> LiveHub:
    """This process's listener (made by init_app, started by the first live request)."""
    found: LiveHub = current_app.extensions["live_hub"]
    found.start()
    return found


def _session() -> Session:
    """A short session of its own: a stream must not hold a pooled connection while it waits."""
    return Session(db.engine)


def _last_event_id() -> int | None | Response:
    """The id a reconnecting browser resumes after; a clear 400 when it is not one."""
    raw = request.headers.get("Last-Event-ID", request.args.get("after", "")).strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= MAX_EVENT_ID):
        message = _("Last-Event-ID must be a whole number from 0 to %(top)d.", top=MAX_EVENT_ID)
        return Response(message, status=400, mimetype="text/plain")
    return int(raw)


@bp.get("/events")
@signed_in
def events() -> Response:
    """The viewer's live stream (Server-Sent Events), cut to what they may see."""
    after = _last_event_id()
    if isinstance(after, Response):
        return after
    live = hub()
    settings = current_app.config["CALLCARDS_SETTINGS"]
    if live.streams >= settings.live_streams:
        # The worker keeps threads for pages; the page falls back to polling and tries later.
        response = Response(_("Too many live connections; try again later."), status=503)
        response.headers["Retry-After"] = "30"
        return response
    with _session() as session:
        scope = live_scope(session, current_user)
    check = sign_in_check(current_user._get_current_object())
    # A browser that never reads must not hold this thread for ever.
    wsgi = request.environ  # the WSGI server's own keys, not the process environment
    for key in ("gunicorn.socket", "werkzeug.socket"):
        sock = wsgi.get(key)
        if sock is not None:
            sock.settimeout(SEND_TIMEOUT)
            break

    def snapshot() -> dict[str, Any]:
        with Session(live.engine) as session:
            return viewer_floor(session, scope)

    def still_signed_in() -> bool:
        with Session(live.engine) as session:
            return check(session)

    live.count(1, LIVE_CONNECTIONS.set)
    response = Response(
        stream.events(live, scope, after, snapshot, still_signed_in),
        mimetype="text/event-stream",
    )
    response.call_on_close(lambda: live.count(-1, LIVE_CONNECTIONS.set))
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event at once
    return response


@bp.get("/floor")
@signed_in
def floor() -> Response:
    """The viewer's floor now as JSON (the pages' fallback when the stream cannot connect)."""
    with _session() as session:
        return jsonify(viewer_floor(session, live_scope(session, current_user)))


def _scope() -> LiveScope:
    with _session() as session:
        return live_scope(session, current_user)


@bp.get("/figures")
@require("live.wallboard")
def figures() -> Response:
    """Today's queue figures for the viewer's wallboard (as the queue report has them)."""
    live = hub()
    cache: FiguresCache = current_app.extensions["live_figures"]
    return jsonify(
        cache.get(db.session(), current_user, _scope(), display_timezone(), live.caller_left)
    )


@bp.get("/wallboard")
@require("live.wallboard")
def wallboard() -> str:
    """Callers waiting, operators' states and today's figures per queue, live."""
    queues = board_queues(db.session(), _scope())
    return render_template(
        "live/wallboard.html",
        queues=queues,
        tv=request.args.get("tv") == "1",
        pause_form=OperatorPauseForm(),
        ami=site_pbx() is not None,
    )


@bp.post("/operators/<int:user_id>/<act>")
@require("live.supervise")
def act(user_id: int, act: str) -> Response:
    """A supervisor pauses (with a reason), unpauses or logs out an operator they oversee."""
    back = redirect(url_for("live.wallboard", tv=request.args.get("tv") or None))
    what = ACTS.get(act)
    operator = next(
        (user for user in visible_operators(db.session(), current_user) if user.id == user_id),
        None,
    )
    if what is None or operator is None or not operator.extension:
        flash(_("No such operator on your wallboard."), "error")
        return back
    form = OperatorPauseForm()
    if not form.validate_on_submit():
        flash(_("The operator's state was not changed: the form was not valid."), "error")
        return back
    reason = (form.reason.data or "") if what is SupervisorAction.PAUSE else ""
    supervisor = account_of(current_user)
    assert supervisor is not None  # @require signed them in
    answer = ask_pbx(
        f"{what.value} extension {operator.extension}",
        lambda pbx: supervise(
            db.session(),
            pbx,
            supervisor=supervisor,
            operator=operator,
            action=what,
            reason=reason,
            remote_addr=request.remote_addr,
        ),
    )
    if answer is None or answer.value is None:
        db.session.rollback()
        flash(
            _(
                "Asterisk did not take the change: %(error)s",
                error=answer.error if answer else _("no connection to Asterisk is set up"),
            ),
            "error",
        )
        return back
    db.session.commit()
    flash(_done(what, operator, reason), "success")
    return back


def _done(what: SupervisorAction, operator: User, reason: str) -> str:
    if what is SupervisorAction.PAUSE:
        return _("%(name)s is paused: %(reason)s.", name=operator.name, reason=pause_reason(reason))
    if what is SupervisorAction.UNPAUSE:
        return _("%(name)s is ready for calls again.", name=operator.name)
    return _("%(name)s is logged out of the queues.", name=operator.name)


def init_app(app: Flask) -> None:
    """This process's listener and figures cache; the blueprint."""
    with app.app_context():
        app.extensions["live_hub"] = LiveHub(db.engine)
    app.extensions["live_figures"] = FiguresCache()
    app.register_blueprint(bp)
