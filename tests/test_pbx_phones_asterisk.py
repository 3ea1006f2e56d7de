"""Operators' phones made in the staff site sign in to the real Asterisk (issue 4: endpoints).

An admin makes a phone password on the site; the site writes the operator's endpoint for
Asterisk and reloads res_pjsip through AMI; a SIP phone then registers with that password
on the sandbox, and no longer once the password is replaced or the operator deactivated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from callcards.sandbox import SandboxInfo
from models import PhoneType, User
from models.session import make_session_factory
from pbx.endpoints import apply_endpoints
from tests.sandbox_site import new_phone_password, sandbox_settings, signed_in
from tests.sip_phone import SipPhone

pytestmark = pytest.mark.asterisk


@pytest.fixture
def admin_site(database_url: str, asterisk_sandbox: SandboxInfo) -> Iterator[FlaskClient]:
    """The staff site on the test database, applying to the sandbox through AMI."""
    yield signed_in(sandbox_settings(asterisk_sandbox, database_url))


@pytest.fixture
def operator(engine: Engine, admin_site: FlaskClient) -> Iterator[User]:
    """operator1 (extension 101) with a desk phone; afterwards as seeded, and applied so.

    A desk phone: these phones register over UDP, and a browser phone's AOR refuses a
    second contact (tests/test_softphone_browser.py) where a desk phone's replaces it.
    """
    sessions = make_session_factory(engine)
    with sessions() as session:
        user = session.scalar(select(User).where(User.login == "operator1"))
        assert user is not None and user.extension == "101"
        user.phone_type = PhoneType.DESKPHONE.value
        session.commit()
        session.expunge(user)
    yield user
    with sessions() as session:
        back = session.get(User, user.id)
        assert back is not None
        back.active, back.sip_password_digest, back.sip_password_set_at = True, None, None
        back.phone_type = PhoneType.WEBRTC.value
        session.commit()
        assert apply_endpoints(session, admin_site.application.config["CALLCARDS_SETTINGS"]).ok


def _user_form(user: User, *, active: bool) -> dict[str, object]:
    """The account form as the admin posts it, unchanged but for `active`."""
    form: dict[str, object] = {
        "login": user.login,
        "name": user.name,
        "role": user.role,
        "locale": user.locale,
        "extension": user.extension or "",
        "phone_type": user.phone_type,
        "served_queues": [str(queue.id) for queue in user.served_queues],
    }
    if active:
        form["active"] = "y"
    return form


def test_a_phone_password_made_on_the_site_signs_the_phone_in(
    admin_site: FlaskClient, operator: User, asterisk_sandbox: SandboxInfo
) -> None:
    port = asterisk_sandbox.sip_port
    assert port is not None
    password = new_phone_password(admin_site, operator)
    assert SipPhone(port, "101", password).register().status == 200
    assert SipPhone(port, "101", password + "x").register().status == 401
    # Another operator has no phone password: their extension is no phone at all.
    assert SipPhone(port, "102", password).register().status == 401

    replaced = new_phone_password(admin_site, operator)
    assert SipPhone(port, "101", password).register().status == 401
    assert SipPhone(port, "101", replaced).register().status == 200


def test_a_deactivated_operator_s_phone_is_signed_out_of_asterisk(
    admin_site: FlaskClient, operator: User, asterisk_sandbox: SandboxInfo, engine: Engine
) -> None:
    port = asterisk_sandbox.sip_port
    assert port is not None
    password = new_phone_password(admin_site, operator)
    assert SipPhone(port, "101", password).register().status == 200
    with make_session_factory(engine)() as session:
        user = session.get(User, operator.id)
        assert user is not None
        form = _user_form(user, active=False)
    saved = admin_site.post(f"/admin/users/{operator.id}", data=form, follow_redirects=True)
    assert "Asterisk took the operators&#39; phones." in saved.text
    assert SipPhone(port, "101", password).register().status == 401
    generated = (Path(asterisk_sandbox.etc_dir) / "pjsip_callcards.conf").read_text()
    assert "[101]" not in generated and password not in generated
