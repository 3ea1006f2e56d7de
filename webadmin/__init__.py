"""The staff site: operators complete cards, supervisors listen, admins manage."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from callcards.config import Settings, load_settings, normalize_database_url
from pbx.client import PbxClient
from webadmin import errors, i18n, live, security, templating
from webadmin.account import bp as account_bp
from webadmin.admin import bp as admin_bp
from webadmin.api import bp as api_bp
from webadmin.auth import bp as auth_bp
from webadmin.auth.identity import init_login
from webadmin.callbacks import bp as callbacks_bp
from webadmin.callflow import bp as callflow_bp
from webadmin.calls import bp as calls_bp
from webadmin.extensions import csrf, db
from webadmin.inputs import BoundedJSONProvider, RecordIdConverter, refuse_json_outside_api
from webadmin.recordings import bp as recordings_bp
from webadmin.reports import bp as reports_bp
from webadmin.workspace import bp as workspace_bp

PACKAGE_DIR = Path(__file__).resolve().parent


def _config(settings: Settings) -> dict[str, Any]:
    https = settings.public_url.startswith("https://")
    return {
        "SECRET_KEY": settings.secret_key,
        "CALLCARDS_SETTINGS": settings,
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(settings.database_url),
        "RECORDINGS_DIR": str(settings.recordings_dir),
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        # A workspace stays open all shift; the token lives as long as the session.
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "ru",
        "BABEL_DEFAULT_TIMEZONE": settings.timezone,
        "BABEL_TRANSLATION_DIRECTORIES": str(PACKAGE_DIR / "translations"),
        "LOGIN_LOCK_FAILURES": 5,
        "LOGIN_LOCK_SECONDS": 300,
        "LOGIN_IP_FAILURES": settings.login_ip_failures,
        "SESSION_LIFETIME": timedelta(hours=settings.session_hours),
        "TRUSTED_PROXIES": settings.trusted_proxies,
        "WORKSPACE_POLL_MS": 1000,
        "CALLS_PER_PAGE": 50,
        # No statement of a page runs longer (PostgreSQL): a slow one answers 503, not a hang.
        "STATEMENT_TIMEOUT_MS": 30_000,
    }


def _engine_options(app: Flask) -> dict[str, Any]:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return {}
    timeout = int(app.config["STATEMENT_TIMEOUT_MS"])
    return {"pool_pre_ping": True, "connect_args": {"options": f"-c statement_timeout={timeout}"}}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Build the staff site for these settings (read from the environment when omitted)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.from_mapping(_config(settings))
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(app))
    # Every `<int:...>` of every route is a row id from 1 to 2^63-1; JSON bodies are bounded.
    app.url_map.converters["int"] = RecordIdConverter
    app.json = BoundedJSONProvider(app)
    app.before_request(refuse_json_outside_api)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    # Decided once: with no AMI secret the site does not reach Asterisk, and pages say so.
    app.extensions["pbx"] = PbxClient(settings) if settings.ami_secret else None
    csrf.init_app(app)
    init_login(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)

    for blueprint in (
        auth_bp,
        workspace_bp,
        calls_bp,
        recordings_bp,
        admin_bp,
        reports_bp,
        api_bp,
        account_bp,
        callflow_bp,
        callbacks_bp,
    ):
        app.register_blueprint(blueprint)
    live.init_app(app)
    return app
