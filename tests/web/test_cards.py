"""Completing a card: required fields, the subcategory follows the category, who and when."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Call, CallCategory, CallPurpose, CallSubCategory, CallTag
from tests.web.conftest import login, user_id


def _dictionary(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        category = session.scalar(select(CallCategory).order_by(CallCategory.position))
        other = session.scalar(select(CallCategory).order_by(CallCategory.position.desc()))
        assert category is not None and other is not None
        return {
            "purpose": session.scalar(select(CallPurpose.id).order_by(CallPurpose.position)),
            "category": category.id,
            "subcategory": category.sub_categories[0].id,
            "foreign_subcategory": other.sub_categories[0].id,
            "tag": session.scalar(select(CallTag.id).order_by(CallTag.position)),
        }


def _form(ids: dict[str, int], **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "purpose": ids["purpose"],
        "category": ids["category"],
        "subcategory": ids["subcategory"],
        "notes": "Записали на приём к терапевту",
        "resolved_first_call": "y",
        "tags": [ids["tag"]],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_saving_a_card_without_summary_shows_the_message_next_to_the_field(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    login(client, "operator1")
    response = client.post(
        f"/calls/{call_id}/card", data=_form(_dictionary(sessions), notes="  ", purpose="")
    )
    assert response.status_code == 400
    assert 'id="field-notes"' in response.text
    notes_block = response.text.split('id="field-notes"')[1].split("</div>")[0]
    assert 'class="field-error"' in notes_block
    purpose_block = response.text.split('id="field-purpose"')[1].split("</div>")[0]
    assert 'class="field-error"' in purpose_block
    with sessions() as session:
        assert session.get(Call, call_id).completed_at is None  # type: ignore[union-attr]


def test_first_save_stamps_who_completed_the_card_and_when(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    ids = _dictionary(sessions)
    login(client, "operator1")
    response = client.post(f"/calls/{call_id}/card", data=_form(ids, needs_callback="y"))
    assert response.status_code == 302
    with sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        assert call.completed_by_id == user_id(sessions, "operator1")
        assert call.completed_at is not None and call.completed_at > call.ended_at  # type: ignore[operator]
        assert (call.purpose_id, call.category_id, call.sub_category_id) == (
            ids["purpose"],
            ids["category"],
            ids["subcategory"],
        )
        assert call.resolved_first_call and call.needs_callback
        assert [tag.id for tag in call.tags] == [ids["tag"]]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.call_id == call_id))
        assert list(actions) == ["card.complete"]


def test_editing_a_completed_card_keeps_the_first_completion_and_is_audited(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    ids = _dictionary(sessions)
    login(client, "operator1")
    client.post(f"/calls/{call_id}/card", data=_form(ids))
    with sessions() as session:
        first = session.get(Call, call_id).completed_at  # type: ignore[union-attr]
    login(client, "admin")
    assert (
        client.post(f"/calls/{call_id}/card", data=_form(ids, notes="Уточнили время")).status_code
        == 302
    )
    with sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None and call.completed_at == first
        assert call.completed_by_id == user_id(sessions, "operator1")
        edit = session.scalar(select(AuditEntry).where(AuditEntry.action == "card.edit"))
        assert edit is not None and edit.user_id == user_id(sessions, "admin")
        assert "notes" in edit.detail["changed"]


def test_a_subcategory_of_another_category_is_refused(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    ids = _dictionary(sessions)
    login(client, "operator1")
    response = client.post(
        f"/calls/{call_id}/card", data=_form(ids, subcategory=ids["foreign_subcategory"])
    )
    assert response.status_code == 400
    block = response.text.split('id="field-subcategory"')[1].split("</select>")[1][:300]
    assert 'class="field-error"' in block


def test_hidden_items_are_not_offered_but_a_card_using_one_still_shows_it(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        hidden = CallPurpose(name="Старая цель", position=99, active=False)
        session.add(hidden)
        session.flush()
        hidden_id = hidden.id
    fresh = make_call()
    using = make_call(purpose_id=hidden_id)
    login(client, "operator1")
    assert "Старая цель" not in client.get(f"/calls/{fresh}").text
    page = client.get(f"/calls/{using}").text
    assert f'<option selected value="{hidden_id}">Старая цель' in page


def test_the_form_offers_each_subcategory_with_its_category(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    with sessions() as session:
        sub = session.scalar(select(CallSubCategory).order_by(CallSubCategory.id))
        assert sub is not None
        expected = f'data-category="{sub.category_id}" value="{sub.id}"'
    login(client, "operator1")
    assert expected in client.get(f"/calls/{call_id}").text


def test_an_operator_cannot_open_another_operators_card(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    theirs = make_call(operator="operator2")
    login(client, "operator1")
    assert client.get(f"/calls/{theirs}").status_code == 403
    assert client.post(f"/calls/{theirs}/card", data={}).status_code == 403
    assert client.get("/calls/999999").status_code == 404


def test_a_supervisor_reads_the_card_without_the_form(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    call_id = make_call(notes="Жалоба на ожидание")
    login(client, "supervisor")
    page = client.get(f"/calls/{call_id}")
    assert page.status_code == 200
    assert "Жалоба на ожидание" in page.text
    assert 'id="card-form"' not in page.text
