"""Voice menus: a tree of prompts and keys, each key sending the caller somewhere."""

from __future__ import annotations

from typing import Any, cast

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from dialplan.document import MenuDoc
from dialplan.settings import DEFAULT_KINDS, OPTION_KINDS
from models.flow import draft_document
from models.routing import IvrMenu
from webadmin.callflow.actions import (
    action_choices,
    action_from,
    action_value,
    draft_targets,
    missing_target,
)
from webadmin.callflow.audit import note_change
from webadmin.callflow.draft import (
    check_document,
    problem_text,
    problems_at,
    prompt_error,
    references,
)
from webadmin.callflow.forms import ConfirmForm, MenuForm
from webadmin.callflow.tree import menu_tree
from webadmin.callflow.words import place_text
from webadmin.extensions import db
from webadmin.permissions import require

BLANK_ROWS = 3


def _menu(menu_id: int) -> IvrMenu:
    menu = db.session.get(IvrMenu, menu_id)
    if menu is None:
        abort(404)
    return menu


def _form(menu: IvrMenu | None) -> MenuForm:
    if request.method == "POST":
        form = MenuForm()
    else:
        rows = [
            {
                "digit": option["digit"],
                "action": action_value(option["action"]),
                "message": option["action"].get("message") or "",
                "label": option["action"].get("label") or "",
            }
            for option in (menu.options if menu else [])
        ]
        default = (
            menu.default_action
            if menu
            else {"kind": "queue", "target": draft_document(db.session())["default_queue"]}
        )
        data: dict[str, Any] = {
            "options": rows + [{}] * BLANK_ROWS,
            "default_action": action_value(default),
            "default_message": default.get("message") or "",
        }
        if menu is not None:
            data.update(
                name=menu.name,
                prompt=menu.prompt,
                timeout_sec=menu.timeout_sec,
                retries=menu.retries,
                timeout_prompt=menu.timeout_prompt or "",
                invalid_prompt=menu.invalid_prompt or "",
            )
        form = MenuForm(formdata=None, data=data)
    if menu is not None:
        form.name.data = menu.name  # a menu keeps its name: options and DIDs refer to it
    queues, menus = draft_targets()
    for row in form.options:
        row.form.action.choices = action_choices(
            OPTION_KINDS, queues, menus, [row.form.action.data or ""]
        )
    form.default_action.choices = action_choices(
        DEFAULT_KINDS, queues, menus, [form.default_action.data or ""]
    )
    return form


def _read(form: MenuForm) -> dict[str, Any] | None:
    """The menu as the document has it, or None with the errors put on the fields."""
    queues, menus = draft_targets()
    menus = [*menus, form.name.data or ""]
    options: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in form.options:
        option = row.form
        if not option.digit.data and not option.action.data:
            continue  # a blank row
        if not option.digit.data:
            option.digit.errors.append(_("Choose a key."))
        elif option.digit.data in seen:
            option.digit.errors.append(_("Key %(digit)s is used twice.", digit=option.digit.data))
        seen.add(option.digit.data or "")
        if not option.action.data:
            option.action.errors.append(_("Choose what the key does."))
        _check_action(option.action, option.message, queues, menus)
        options.append(
            {
                "digit": option.digit.data,
                "action": action_from(
                    option.action.data or "", option.message.data, option.label.data
                ),
            }
        )
    _check_action(form.default_action, form.default_message, queues, menus)
    for field in (form.prompt, form.timeout_prompt, form.invalid_prompt):
        message = prompt_error(field.data)
        if message:
            field.errors.append(message)
    if any(field.errors for field in form) or any(row.form.errors for row in form.options):
        return None
    return {
        "name": form.name.data,
        "prompt": form.prompt.data.strip(),
        "options": options,
        "timeout_sec": form.timeout_sec.data,
        "retries": form.retries.data,
        "timeout_prompt": (form.timeout_prompt.data or "").strip() or None,
        "invalid_prompt": (form.invalid_prompt.data or "").strip() or None,
        "default": action_from(form.default_action.data or "", form.default_message.data),
    }


def _check_action(action: Any, message: Any, queues: dict[str, str], menus: list[str]) -> None:
    missing = missing_target(action.data or "", queues, menus)
    if missing:
        action.errors.append(missing)
    if action.data == "hangup":
        error = prompt_error(message.data)
        if error:
            message.errors.append(error)


def _flow_errors(item: MenuDoc) -> list[str]:
    """What the whole flow says about this menu once saved: e.g. a loop with no way out."""
    document = draft_document(db.session())
    menus = [menu for menu in document.get("menus", []) if menu["name"] != item["name"]]
    document["menus"] = [*menus, item]
    return [
        f"{place_text(p.where)}: {problem_text(p)}"
        for p in problems_at(check_document(document), f"menu {item['name']}")
    ]


def _save(form: MenuForm, menu: IvrMenu | None) -> tuple[IvrMenu | None, list[str]]:
    if not form.validate_on_submit():
        _read(form)
        return None, []
    if menu is None and db.session.scalar(select(IvrMenu.id).where(IvrMenu.name == form.name.data)):
        form.name.errors.append(_("A menu of this name exists already."))
        return None, []
    item = _read(form)
    if item is None:
        return None, []
    # The form reads into the document's shape; the flow check below reads it field by field.
    errors = _flow_errors(cast(MenuDoc, item))
    if errors:
        return None, errors
    if menu is None:
        menu = IvrMenu(name=item["name"], prompt=item["prompt"])
        db.session.add(menu)
    menu.prompt = item["prompt"]
    menu.options = item["options"]
    menu.timeout_sec = item["timeout_sec"]
    menu.retries = item["retries"]
    menu.timeout_prompt = item["timeout_prompt"]
    menu.invalid_prompt = item["invalid_prompt"]
    menu.default_action = item["default"]
    return menu, []


@require("admin.callflow")
def index() -> str:
    """The menus as a tree from the DIDs that enter them, and every menu's keys."""
    menus = list(db.session.scalars(select(IvrMenu).order_by(IvrMenu.name)))
    document = draft_document(db.session())
    return render_template(
        "callflow/menus.html",
        menus=menus,
        tree=menu_tree(document),
        ids={menu.name: menu.id for menu in menus},
        delete_form=ConfirmForm(),
    )


def _page(form: MenuForm, menu: IvrMenu | None, errors: list[str]) -> tuple[str, int]:
    status = 400 if request.method == "POST" else 200
    return render_template(
        "callflow/menu_form.html", form=form, menu=menu, flow_errors=errors
    ), status


@require("admin.callflow")
def create() -> str | Response | tuple[str, int]:
    """A new menu."""
    form = _form(None)
    menu, errors = _save(form, None) if request.method == "POST" else (None, [])
    if menu is None:
        return _page(form, None, errors)
    note_change("menu", menu.name, "create")
    db.session.commit()
    flash(_("Menu %(name)s is added to the draft.", name=menu.name), "success")
    return redirect(url_for("callflow.menus"))


@require("admin.callflow")
def edit(menu_id: int) -> str | Response | tuple[str, int]:
    """Change a menu's prompt, keys, timeouts and default."""
    menu = _menu(menu_id)
    form = _form(menu)
    saved, errors = _save(form, menu) if request.method == "POST" else (None, [])
    if saved is None:
        return _page(form, menu, errors)
    note_change("menu", menu.name, "edit")
    db.session.commit()
    flash(
        _("Menu %(name)s is saved in the draft. Publish to let callers hear it.", name=menu.name),
        "success",
    )
    return redirect(url_for("callflow.menus"))


@require("admin.callflow")
def delete(menu_id: int) -> Response:
    """Remove a menu nothing sends calls to."""
    menu = _menu(menu_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("callflow.menus"))
    used = [
        place
        for place in references("menu", menu.name)
        if not place.startswith(place_text(f"menu {menu.name}"))
    ]
    if used:
        flash(
            _(
                "Menu %(name)s is in use (%(places)s); change those first.",
                name=menu.name,
                places="; ".join(used),
            ),
            "error",
        )
        return redirect(url_for("callflow.menus"))
    note_change("menu", menu.name, "delete")
    db.session.delete(menu)
    db.session.commit()
    flash(_("Menu %(name)s is removed from the draft.", name=menu.name), "success")
    return redirect(url_for("callflow.menus"))
