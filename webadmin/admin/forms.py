"""Forms of the admin area: a dictionary item, a user, a new password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from webadmin.calls.forms import CheckboxesField, optional_id
from webadmin.i18n import LANGUAGES
from webadmin.labels import PHONE_TYPES

MIN_PASSWORD = 8


class DictionaryItemForm(FlaskForm):
    """A new dictionary item (a subcategory also names its category)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=128)])
    # Checked by the view: only a subcategory names a category.
    category = SelectField(_l("Category"), coerce=optional_id, validate_choice=False)


class UserForm(FlaskForm):
    """A member of staff: who they are, their role, phone and queues."""

    login = StringField(
        _l("Login"),
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(
                r"^[A-Za-z0-9._-]+$", message=_l("Latin letters, digits, dot, dash, underscore.")
            ),
        ],
    )
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=128)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("operator", _l("operator")),
            SelectChoice("supervisor", _l("supervisor")),
            SelectChoice("admin", _l("administrator")),
        ],
    )
    extension = StringField(
        _l("Extension"),
        validators=[
            Optional(),
            Length(max=32),
            Regexp(r"^\d+$", message=_l("Digits only.")),
        ],
    )
    phone_type = SelectField(
        _l("Phone"),
        default="webrtc",
        choices=[SelectChoice(code, label) for code, label in PHONE_TYPES.items()],
    )
    locale = SelectField(
        _l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()]
    )
    served_queues = CheckboxesField(_l("Queues served (operator)"), coerce=optional_id)
    overseen_queues = CheckboxesField(_l("Queues overseen (supervisor)"), coerce=optional_id)
    active = BooleanField(_l("Active (may sign in)"), default=True)
    password = PasswordField(
        _l("Password"),
        validators=[
            Optional(),
            Length(
                min=MIN_PASSWORD, max=256, message=_l("At least %(n)d characters.", n=MIN_PASSWORD)
            ),
        ],
    )


class PasswordForm(FlaskForm):
    """A new password chosen by an administrator."""

    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD, max=256, message=_l("At least %(n)d characters.", n=MIN_PASSWORD)
            ),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            EqualTo("password", message=_l("The passwords differ.")),
        ],
    )


class PhonePasswordForm(FlaskForm):
    """A new phone password, made by the site (the form only carries the CSRF token)."""
