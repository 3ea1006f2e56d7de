"""The call flow: admins edit DIDs, hours, menus, queues and prompts, publish, roll back."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from webadmin.callflow import (
    dids,
    draft,
    hours,
    menus,
    prompts,
    publish,
    queues,
    simulator,
    versions,
    words,
)

bp = Blueprint("callflow", __name__, url_prefix="/callflow")

GET_POST = ["GET", "POST"]
POST = ["POST"]

# Declared in one place, so the area's pages can be read at a glance.
bp.add_url_rule("/", view_func=publish.index, endpoint="index")
bp.add_url_rule("/publish", view_func=publish.publish_draft, endpoint="publish", methods=POST)
bp.add_url_rule("/apply", view_func=publish.apply_again, endpoint="apply", methods=POST)
bp.add_url_rule("/versions", view_func=versions.index, endpoint="versions")
bp.add_url_rule("/versions/<int:version_id>", view_func=versions.show, endpoint="version")
bp.add_url_rule(
    "/versions/<int:version_id>/rollback",
    view_func=versions.rollback,
    endpoint="rollback",
    methods=POST,
)
bp.add_url_rule("/dids", view_func=dids.index, endpoint="dids")
bp.add_url_rule("/dids/new", view_func=dids.create, endpoint="did_new", methods=GET_POST)
bp.add_url_rule("/dids/<int:did_id>", view_func=dids.edit, endpoint="did_edit", methods=GET_POST)
bp.add_url_rule(
    "/dids/<int:did_id>/delete", view_func=dids.delete, endpoint="did_delete", methods=POST
)
bp.add_url_rule("/hours", view_func=hours.index, endpoint="hours")
bp.add_url_rule("/hours/new", view_func=hours.create, endpoint="hours_new", methods=GET_POST)
bp.add_url_rule(
    "/hours/<int:schedule_id>", view_func=hours.edit, endpoint="hours_edit", methods=GET_POST
)
bp.add_url_rule(
    "/hours/<int:schedule_id>/delete", view_func=hours.delete, endpoint="hours_delete", methods=POST
)
bp.add_url_rule("/menus", view_func=menus.index, endpoint="menus")
bp.add_url_rule("/menus/new", view_func=menus.create, endpoint="menu_new", methods=GET_POST)
bp.add_url_rule(
    "/menus/<int:menu_id>", view_func=menus.edit, endpoint="menu_edit", methods=GET_POST
)
bp.add_url_rule(
    "/menus/<int:menu_id>/delete", view_func=menus.delete, endpoint="menu_delete", methods=POST
)
bp.add_url_rule("/queues", view_func=queues.index, endpoint="queues")
bp.add_url_rule("/queues/new", view_func=queues.create, endpoint="queue_new", methods=GET_POST)
bp.add_url_rule(
    "/queues/<int:queue_id>", view_func=queues.edit, endpoint="queue_edit", methods=GET_POST
)
bp.add_url_rule(
    "/queues/default", view_func=queues.set_default, endpoint="queue_default", methods=POST
)
bp.add_url_rule(
    "/queues/recording", view_func=queues.set_recording, endpoint="recording", methods=POST
)
bp.add_url_rule("/prompts", view_func=prompts.index, endpoint="prompts")
bp.add_url_rule("/prompts", view_func=prompts.upload, endpoint="prompt_upload", methods=POST)
bp.add_url_rule("/prompts/<name>.wav", view_func=prompts.audio, endpoint="prompt_audio")
bp.add_url_rule(
    "/prompts/<name>/delete", view_func=prompts.delete, endpoint="prompt_delete", methods=POST
)
bp.add_url_rule("/simulator", view_func=simulator.index, endpoint="simulator")


@bp.context_processor
def _words() -> dict[str, Any]:
    """The document's words for the area's templates."""
    return {
        "field_label": words.field_label,
        "part_label": lambda p: words.PARTS.get(p, p),
        "day_label": lambda d: words.DAYS.get(d, d),
        "known_sounds": lambda: sorted(draft.known_prompts()),
    }


__all__ = ["bp"]
