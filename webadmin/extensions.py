"""The Flask extensions, created once here and bound to an app by `create_app`."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from models import Base

#: Sessions over the tables of `models.Base` (the FastAGI server's own declarative base).
#: `model_class=Base` is refused: Flask-SQLAlchemy subclasses the base, and SQLAlchemy 2.1
#: forbids a per-base type_annotation_map there; sharing the metadata is all the site needs.
db = SQLAlchemy(metadata=Base.metadata)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
