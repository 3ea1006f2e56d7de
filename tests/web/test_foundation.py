"""The site's foundation: sign-in, the start page per role, headers, the production start."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from callcards.config import DEVELOPMENT_SECRET_KEY, Settings
from tests.web.conftest import login
from webadmin.production import InsecureSecretKey, production_app


def test_operator_signs_in_and_lands_in_the_workspace(client: FlaskClient) -> None:
    response = login(client, "operator1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="workspace"' in page.text


def test_supervisor_start_page_is_the_calls_list(client: FlaskClient) -> None:
    login(client, "supervisor")
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/calls"
    assert client.get("/calls").status_code == 200


def test_visitor_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/calls")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_production_start_refuses_the_default_secret_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url="sqlite://", recordings_dir=tmp_path, secret_key=DEVELOPMENT_SECRET_KEY
    )
    with pytest.raises(InsecureSecretKey):
        production_app(settings, environ={})
    assert production_app(settings, environ={"CALLCARDS_DEVELOPMENT": "1"}) is not None


def test_a_crash_shows_the_error_page_and_rolls_the_session_back(
    web_database_url: str, recordings_dir
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from models import User
    from tests.web.conftest import make_settings
    from webadmin import create_app
    from webadmin.extensions import db

    app = create_app(make_settings(web_database_url, recordings_dir))  # not TESTING: handled

    @app.get("/boom")
    def boom() -> str:
        user = db.session.scalar(select(User).where(User.login == "operator1"))
        assert user is not None
        user.name = "half-written"
        db.session.flush()
        raise RuntimeError("a bug")

    client = app.test_client()
    response = client.get("/boom")
    assert response.status_code == 500
    assert "На сервере произошла ошибка" in response.text
    with app.app_context():
        assert db.session.scalar(select(User.name).where(User.login == "operator1")) != (
            "half-written"
        )
