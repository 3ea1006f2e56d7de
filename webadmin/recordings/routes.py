"""Streaming a card's recording (with HTTP Range, so the player can seek) and downloading it."""

from __future__ import annotations

import mimetypes
from datetime import timedelta

from flask import Blueprint, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import abort
from werkzeug.wrappers import Response

from models import AuditEntry, Call, utcnow
from webadmin.extensions import db
from webadmin.inputs import flag_argument
from webadmin.permissions import has_permission, refuse, require, visible_call
from webadmin.recordings.files import recording_file

bp = Blueprint("recordings", __name__)

#: Several Range requests make up one listen; one audit entry per user and card in this window.
LISTEN_WINDOW = timedelta(minutes=10)


def _starts_playback() -> bool:
    # Seeking sends `Range: bytes=N-`; only a request from the start counts as a new listen.
    header = request.headers.get("Range", "")
    return not header or header.replace(" ", "") in {"bytes=0-", "bytes=0-1"}


def _audit(call: Call, action: str) -> None:
    if action == "recording.listen":
        if not _starts_playback():
            return
        recent = db.session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.user_id == current_user.id,
                AuditEntry.call_id == call.id,
                AuditEntry.action == action,
                AuditEntry.at > utcnow() - LISTEN_WINDOW,
            )
            .limit(1)
        )
        if recent is not None:
            return
    db.session.add(
        AuditEntry(
            user_id=current_user.id,
            action=action,
            call_id=call.id,
            remote_addr=request.remote_addr,
            detail={"range": request.headers.get("Range", "")},
        )
    )
    db.session.commit()


@bp.get("/calls/<int:call_id>/recording")
@require("recordings.listen")
def recording(call_id: int) -> Response:
    """The card's recording; `?download=true` as an attachment for supervisors and admins."""
    download = flag_argument("download", request.args.get("download"))
    if download and not has_permission(current_user, "recordings.download"):
        refuse(403, _("Only supervisors and administrators may download recordings."))
    call = visible_call(call_id)
    path = recording_file(call)
    if path is None:
        abort(404, description=_("This call has no recording, or its file is empty."))
    _audit(call, "recording.download" if download else "recording.listen")
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = send_file(
        path,
        mimetype=mimetype,
        conditional=True,
        as_attachment=download,
        download_name=f"call-{call.id}-{call.started_at:%Y%m%d-%H%M%S}{path.suffix}",
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response
