"""The call-flow overview, and publishing: validate the draft, publish it, apply the queues."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from dialplan.document import stored_document
from models import AuditEntry
from models.flow import latest_version, publish
from models.routing import Did, FlowVersion, IvrMenu, Queue, Schedule
from webadmin.callflow.apply import Applied, apply_queues
from webadmin.callflow.audit import note
from webadmin.callflow.diff import document_changes
from webadmin.callflow.draft import check_draft, shown, site_settings
from webadmin.callflow.forms import ConfirmForm, PublishForm
from webadmin.callflow.sounds import uploaded_prompts
from webadmin.extensions import db
from webadmin.permissions import require

APPLY_ACTIONS = ("callflow.publish", "callflow.rollback", "callflow.apply")


def last_apply() -> tuple[AuditEntry | None, Applied | None]:
    """The newest publish, rollback or apply in the audit log, and what Asterisk said."""
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.action.in_(APPLY_ACTIONS))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    return entry, Applied.from_detail(entry.detail.get("apply") if entry else None)


def _counts() -> dict[str, int]:
    def count(model: Any, *where: Any) -> int:
        return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return {
        "dids": count(Did),
        "schedules": count(Schedule),
        "menus": count(IvrMenu),
        "queues": count(Queue, Queue.active.is_(True)),
        "prompts": len(uploaded_prompts(site_settings().prompts_dir)),
    }


def _overview(form: PublishForm, status: int = 200) -> tuple[str, int]:
    document, problems = check_draft()
    version = latest_version(db.session())
    changes = document_changes(stored_document(version.document) if version else None, document)
    entry, applied = last_apply()
    return render_template(
        "callflow/index.html",
        form=form,
        problems=shown(problems),
        version=version,
        changes=changes,
        counts=_counts(),
        apply_entry=entry,
        applied=applied,
        apply_form=ConfirmForm(),
    ), status


@require("admin.callflow")
def index() -> tuple[str, int]:
    """Where the draft stands: unpublished changes, problems, the last apply, Publish."""
    return _overview(PublishForm(formdata=None))


def publish_and_apply(comment: str, action: str, **detail: Any) -> tuple[FlowVersion, Applied]:
    """Publish the draft as a new version, then send the queues to Asterisk; both are traced."""
    version = publish(db.session(), user_id=current_user.id, comment=comment)
    db.session.commit()  # the next call follows the new version, whatever Asterisk says next
    applied = apply_queues()
    note(action, version=version.id, comment=comment, apply=applied.detail(), **detail)
    db.session.commit()
    return version, applied


def flash_applied(applied: Applied) -> None:
    """Tell the admin whether Asterisk took the queues; a failure is an error, not a footnote."""
    if not applied.attempted:
        flash(
            _(
                "Queues are not sent to Asterisk from this site (AMI is not set up): "
                "keep queues.conf in step by hand."
            ),
            "info",
        )
    elif applied.ok:
        flash(
            _("Asterisk accepted the queues and operators.")
            if applied.changed
            else _("Asterisk already had these queues and operators."),
            "success",
        )
    else:
        flash(
            _(
                "Asterisk did not accept the queues: %(error)s. Calls follow the new flow, but "
                "queue settings and operators in Asterisk are the old ones.",
                error=applied.error or "; ".join(applied.messages) or _("no reason given"),
            ),
            "error",
        )


@require("admin.callflow")
def publish_draft() -> Response | tuple[str, int]:
    """Validate the draft and publish it; refuse with the list of problems if any."""
    form = PublishForm()
    if not form.validate_on_submit():
        return _overview(form, 400)
    _document, problems = check_draft()
    if problems:
        flash(
            ngettext(
                "Not published: %(num)d problem would break calls. Fix it below.",
                "Not published: %(num)d problems would break calls. Fix them below.",
                len(problems),
            ),
            "error",
        )
        return _overview(form, 400)
    version, applied = publish_and_apply(form.comment.data.strip(), "callflow.publish")
    flash(_("Version %(id)d is published: the next call follows it.", id=version.id), "success")
    flash_applied(applied)
    return redirect(url_for("callflow.version", version_id=version.id))


@require("admin.callflow")
def apply_again() -> Response:
    """Send the queues to Asterisk again (after a failed apply, or Asterisk was restarted)."""
    if ConfirmForm().validate_on_submit():
        version = latest_version(db.session())
        applied = apply_queues()
        note("callflow.apply", version=version.id if version else None, apply=applied.detail())
        db.session.commit()
        flash_applied(applied)
    return redirect(url_for("callflow.index"))
