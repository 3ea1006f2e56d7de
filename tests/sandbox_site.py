"""The staff site and commands as on a server next to the sandbox Asterisk (real-Asterisk tests)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from callcards.config import Settings, load_settings
from callcards.sandbox import SandboxInfo
from callcards.sandbox.render import TEST_MEMBER_INTERFACE
from webadmin import create_app


def sandbox_settings(info: SandboxInfo, database_url: str, **changes: Any) -> Settings:
    """Settings that apply to the sandbox: its config folder, its AMI, Local test members."""
    return replace(
        load_settings({"DATABASE_URL": database_url}),
        asterisk_etc_dir=Path(info.etc_dir),
        member_interface=TEST_MEMBER_INTERFACE,
        ami_host=info.ami_host,
        ami_port=int(info.ami_port),
        ami_user=info.ami_user,
        ami_secret=info.ami_secret,
        **changes,
    )


def signed_in(
    settings: Settings,
    login: str = "admin",
    password: str = "admin",  # noqa: S107
    *,
    locale: str | None = "en",
) -> FlaskClient:
    """A test client of the site on `settings` (no CSRF), signed in, in `locale` if given."""
    app = create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"login": login, "password": password}).status_code == 302
    if locale is not None:
        client.post("/locale", data={"locale": locale})
    return client


def make_phone_password(site: FlaskClient, user: Any) -> str:
    """Press "Make a phone password" for `user` on the admin's site; the page it answers."""
    page = site.post(f"/admin/users/{user.id}/phone-password")
    assert page.status_code == 200, page.text
    assert "Asterisk accepted" in page.text
    return page.text


def new_phone_password(site: FlaskClient, user: Any) -> str:
    """A desk phone's new password, as the admin's page shows it once."""
    page = make_phone_password(site, user)
    shown = re.search(r'id="phone-password">.*?<code>([^<]+)</code>', page, re.S)
    assert shown is not None
    return shown[1]
