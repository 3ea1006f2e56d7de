"""Languages: Russian by default, English on request; per user, or per session for visitors."""

from __future__ import annotations

from flask import Flask, session
from flask_babel import get_locale
from flask_login import current_user

from webadmin.extensions import babel

#: The languages the site speaks, in the order the switch shows them.
LANGUAGES = {"ru": "Русский", "en": "English"}
DEFAULT_LOCALE = "ru"


def select_locale() -> str:
    """The signed-in user's language, else the visitor's choice, else Russian."""
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return str(current_user.locale)
    chosen = session.get("locale")
    return chosen if chosen in LANGUAGES else DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with our locale selector and expose the languages to templates."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
