"""The card form an operator completes after (or during) a call."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, scoped_session
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from models import Call, CallCategory, CallPurpose, CallSubCategory, CallTag
from webadmin.inputs import record_id

NOTES_MAX = 4000

#: A plain session or Flask-SQLAlchemy's scoped one.
DbSession = Session | scoped_session[Any]


def optional_id(value: Any) -> int | None:
    """A select's value as an id, None when nothing is chosen; ValueError (the field's
    "could not coerce") when it cannot be a row's id."""
    if value in (None, "", "None"):
        return None
    if isinstance(value, int):
        return value
    found = record_id(str(value))
    if found is None:
        raise ValueError(value)
    return found


class Chosen:
    """Refuse an empty select with a message next to the field."""

    def __init__(self, message: Any) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.data is None:
            raise ValidationError(str(self.message))


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (quicker than a multi-select on a call-centre PC)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CardForm(FlaskForm):
    """Purpose, category, subcategory, summary, first-call resolution, callback, tags."""

    purpose = SelectField(
        _l("Purpose"),
        coerce=optional_id,
        validators=[Chosen(_l("Choose the purpose of the call."))],
    )
    category = SelectField(
        _l("Category"), coerce=optional_id, validators=[Chosen(_l("Choose a category."))]
    )
    subcategory = SelectField(_l("Subcategory"), coerce=optional_id)
    notes = TextAreaField(
        _l("Summary"),
        validators=[
            DataRequired(message=_l("Write a short summary of the call.")),
            Length(max=NOTES_MAX),
        ],
    )
    resolved_first_call = BooleanField(_l("Resolved on first call"))
    needs_callback = BooleanField(_l("Needs a callback"))
    tags = CheckboxesField(_l("Tags"), coerce=optional_id)
    origin = HiddenField()

    def validate_subcategory(self, field: Field) -> None:
        """A subcategory must belong to the chosen category."""
        if field.data is None or self.category.data is None:
            return
        if self.sub_category_parents.get(field.data) != self.category.data:
            raise ValidationError(str(_l("This subcategory belongs to another category.")))

    def offer_choices(self, session: DbSession, call: Call) -> None:
        """Active dictionary items, plus the inactive ones this card already uses."""
        blank = [SelectChoice("", str(_l("— choose —")))]
        self.purpose.choices = blank + _items(session, CallPurpose, call.purpose_id)
        self.category.choices = blank + _items(session, CallCategory, call.category_id)
        subs = session.scalars(
            select(CallSubCategory)
            .where(
                or_(
                    CallSubCategory.active.is_(True),
                    CallSubCategory.id == (call.sub_category_id or -1),
                )
            )
            .order_by(CallSubCategory.category_id, CallSubCategory.position)
        ).all()
        self.sub_category_parents = {sub.id: sub.category_id for sub in subs}
        self.subcategory.choices = [SelectChoice("", str(_l("— none —")))] + [
            SelectChoice(str(sub.id), _shown(sub), {"data-category": str(sub.category_id)})
            for sub in subs
        ]
        used_tags = [tag.id for tag in call.tags]
        tags = session.scalars(
            select(CallTag)
            .where(or_(CallTag.active.is_(True), CallTag.id.in_(used_tags or [-1])))
            .order_by(CallTag.position)
        ).all()
        self.tags.choices = [SelectChoice(str(tag.id), _shown(tag)) for tag in tags]

    def load(self, call: Call) -> None:
        """Fill the form from the card (on GET)."""
        self.purpose.data = call.purpose_id
        self.category.data = call.category_id
        self.subcategory.data = call.sub_category_id
        self.notes.data = call.notes
        self.resolved_first_call.data = call.resolved_first_call
        self.needs_callback.data = call.needs_callback
        self.tags.data = [tag.id for tag in call.tags]


def _shown(item: Any) -> str:
    return item.name if item.active else f"{item.name} ({_l('hidden')})"


def _items(session: DbSession, model: Any, current_id: int | None) -> list[SelectChoice]:
    items = session.scalars(
        select(model)
        .where(or_(model.active.is_(True), model.id == (current_id or -1)))
        .order_by(model.position, model.id)
    ).all()
    return [SelectChoice(str(item.id), _shown(item)) for item in items]
