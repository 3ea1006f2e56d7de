"""Voice prompts: upload (converted to what Asterisk plays), listen, delete; installed sounds."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from models.flow import draft_document, latest_version
from webadmin.callflow.audit import note_change
from webadmin.callflow.draft import prompts_in, site_settings
from webadmin.callflow.forms import ConfirmForm, UploadForm
from webadmin.callflow.sounds import (
    MAX_UPLOAD_BYTES,
    PROMPT_PREFIX,
    ConversionError,
    convert,
    installed_sounds,
    prompt_name,
    prompt_path,
    uploaded_prompts,
)
from webadmin.extensions import db
from webadmin.permissions import require


def _used() -> set[str]:
    """The sounds the draft or the published flow plays."""
    used = prompts_in(draft_document(db.session()))
    version = latest_version(db.session())
    return used | prompts_in(version.document) if version is not None else used


def _page(form: UploadForm, status: int = 200) -> tuple[str, int]:
    settings = site_settings()
    used = _used()
    return render_template(
        "callflow/prompts.html",
        form=form,
        prompts=uploaded_prompts(settings.prompts_dir),
        sounds=installed_sounds(settings.sounds_dir),
        sounds_dir=settings.sounds_dir,
        used=used,
        delete_form=ConfirmForm(),
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    ), status


@require("admin.callflow")
def index() -> tuple[str, int]:
    """The uploaded prompts, the upload form, and Asterisk's installed sounds."""
    return _page(UploadForm(formdata=None))


@require("admin.callflow")
def upload() -> Response | tuple[str, int]:
    """Convert an uploaded WAV, MP3 or OGG to 8 kHz mono and keep it as a prompt."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    audio = form.audio.data
    audio.stream.seek(0, os.SEEK_END)
    if audio.stream.tell() > MAX_UPLOAD_BYTES:
        form.audio.errors.append(
            _(
                "The file is larger than %(mb)d MB; upload a shorter or more compressed recording.",
                mb=MAX_UPLOAD_BYTES // (1024 * 1024),
            )
        )
        return _page(form, 400)
    audio.stream.seek(0)
    # Only the extension of the sender's file name is used (FileAllowed has checked it).
    source_format = Path(audio.filename or "").suffix.lstrip(".").lower()
    name = prompt_name(form.name.data or Path(audio.filename or "").stem)
    if name is None:
        form.name.errors.append(_("Give the prompt a name of Latin letters, digits and dashes."))
        return _page(form, 400)
    folder = site_settings().prompts_dir
    if prompt_path(folder, name) is not None and not form.replace.data:
        form.name.errors.append(
            _(
                "A prompt “%(name)s” exists already: tick “replace” or choose another name.",
                name=name,
            )
        )
        return _page(form, 400)
    with tempfile.TemporaryDirectory(prefix="callcards-upload-") as scratch:
        source = Path(scratch) / f"upload.{source_format}"
        audio.save(source)
        try:
            convert(source, source_format, folder / f"{name}.wav")
        except ConversionError as error:
            form.audio.errors.append(
                _(
                    "The file could not be converted to a prompt (%(why)s). "
                    "Is it really a %(format)s recording?",
                    why=str(error),
                    format=source_format.upper(),
                )
            )
            return _page(form, 400)
    note_change("prompt", name, "upload")
    db.session.commit()
    flash(
        _("Prompt %(sound)s is ready; choose it in a menu.", sound=PROMPT_PREFIX + name), "success"
    )
    return redirect(url_for("callflow.prompts"))


@require("admin.callflow")
def audio(name: str) -> Response:
    """An uploaded prompt, to listen to in the browser."""
    path = prompt_path(site_settings().prompts_dir, name)
    if path is None:
        abort(404)
    return send_file(path, mimetype="audio/wav", max_age=0, conditional=True)


@require("admin.callflow")
def delete(name: str) -> Response:
    """Delete an uploaded prompt that neither the draft nor the published flow plays."""
    path = prompt_path(site_settings().prompts_dir, name)
    if path is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("callflow.prompts"))
    used = _used()
    if PROMPT_PREFIX + name in used:
        flash(
            _(
                "%(sound)s is played by the draft or the published flow; choose another prompt "
                "there first.",
                sound=PROMPT_PREFIX + name,
            ),
            "error",
        )
        return redirect(url_for("callflow.prompts"))
    path.unlink()
    note_change("prompt", name, "delete")
    db.session.commit()
    flash(_("Prompt %(sound)s is deleted.", sound=PROMPT_PREFIX + name), "success")
    return redirect(url_for("callflow.prompts"))
