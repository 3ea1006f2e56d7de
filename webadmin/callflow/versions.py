"""Published versions: who, when, what changed, what Asterisk said, and rollback."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from dialplan.document import stored_document
from models import AuditEntry, User
from models.flow import replace_document
from models.routing import FlowVersion
from webadmin.callflow.apply import Applied
from webadmin.callflow.diff import document_changes
from webadmin.callflow.draft import check_document
from webadmin.callflow.forms import RollbackForm
from webadmin.callflow.publish import APPLY_ACTIONS, flash_applied, publish_and_apply
from webadmin.extensions import db
from webadmin.inputs import requested_page
from webadmin.permissions import require

PER_PAGE = 30


def _version(version_id: int) -> FlowVersion:
    version = db.session.get(FlowVersion, version_id)
    if version is None:
        abort(404)
    return version


def _previous(version: FlowVersion) -> FlowVersion | None:
    return db.session.scalar(
        select(FlowVersion)
        .where(FlowVersion.id < version.id)
        .order_by(FlowVersion.id.desc())
        .limit(1)
    )


def _applied(version_ids: list[int]) -> dict[int, Applied]:
    """What Asterisk said when each version was published (the newest word per version)."""
    found: dict[int, Applied] = {}
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(APPLY_ACTIONS)).order_by(AuditEntry.id)
    )
    for entry in entries:
        version_id = entry.detail.get("version")
        applied = Applied.from_detail(entry.detail.get("apply"))
        if version_id in version_ids and applied is not None:
            found[version_id] = applied
    return found


@require("admin.callflow")
def index() -> str:
    """The versions, newest first, each with the number of changes against the one before."""
    page = db.paginate(
        select(FlowVersion).order_by(FlowVersion.id.desc()),
        page=requested_page(request.args.get("page")),
        per_page=PER_PAGE,
        error_out=False,
    )
    versions = list(page.items)
    older = _previous(versions[-1]) if versions else None
    changes = {}
    for version, before in zip(versions, [*versions[1:], older], strict=True):
        changes[version.id] = document_changes(
            stored_document(before.document) if before else None, stored_document(version.document)
        )
    authors = {
        user.id: user
        for user in db.session.scalars(
            select(User).where(User.id.in_({v.created_by_id for v in versions if v.created_by_id}))
        )
    }
    return render_template(
        "callflow/versions.html",
        page=page,
        versions=versions,
        changes=changes,
        authors=authors,
        applied=_applied([v.id for v in versions]),
        latest_id=versions[0].id if versions and page.page == 1 else None,
    )


@require("admin.callflow")
def show(version_id: int) -> str:
    """One version: what changed against the one before, its document, and rollback."""
    version = _version(version_id)
    previous = _previous(version)
    author = db.session.get(User, version.created_by_id) if version.created_by_id else None
    trace = list(
        db.session.scalars(
            select(AuditEntry)
            .options(selectinload(AuditEntry.user))
            .where(AuditEntry.action.in_(APPLY_ACTIONS))
            .order_by(AuditEntry.id)
        )
    )
    trace = [entry for entry in trace if entry.detail.get("version") == version.id]
    return render_template(
        "callflow/version.html",
        version=version,
        previous=previous,
        author=author,
        changes=document_changes(
            stored_document(previous.document) if previous else None,
            stored_document(version.document),
        ),
        trace=[(entry, Applied.from_detail(entry.detail.get("apply"))) for entry in trace],
        form=RollbackForm(formdata=None, version=str(version.id)),
    )


@require("admin.callflow")
def rollback(version_id: int) -> Response:
    """Make the draft exactly this version's flow and publish it as a new version."""
    version = _version(version_id)
    form = RollbackForm()
    if not form.validate_on_submit() or form.version.data != str(version.id):
        flash(_("The rollback was not confirmed; nothing changed."), "error")
        return redirect(url_for("callflow.version", version_id=version.id))
    for queue, login in replace_document(db.session(), stored_document(version.document)):
        flash(
            _(
                "Queue %(queue)s: operator %(login)s of version %(id)d is no longer on the staff "
                "and is left out.",
                queue=queue,
                login=login,
                id=version.id,
            ),
            "error",
        )
    problems = check_document(version.document)
    if problems:
        db.session.commit()
        flash(
            ngettext(
                "The draft is now version %(id)d, but it is not published: %(num)d "
                "problem would break calls today (a deleted prompt?). Fix it below and "
                "publish.",
                "The draft is now version %(id)d, but it is not published: %(num)d "
                "problems would break calls today (a deleted prompt?). Fix them below "
                "and publish.",
                len(problems),
                id=version.id,
            ),
            "error",
        )
        return redirect(url_for("callflow.index"))
    new, applied = publish_and_apply(
        f"rollback to {version.id}", "callflow.rollback", to=version.id
    )
    flash(
        _(
            "Rolled back: version %(new)d repeats version %(old)d and the next call follows it.",
            new=new.id,
            old=version.id,
        ),
        "success",
    )
    flash_applied(applied)
    return redirect(url_for("callflow.version", version_id=new.id))
