"""Operators' phones: the generated pjsip file, and its apply when Asterisk says no.

Asterisk here is a fake res_pjsip behind AMI (a reload reads the live file, the endpoint
list is what it defines), so the failures that cannot be made on demand can be. The real
Asterisk (phones registering with the password) is in test_pbx_phones_asterisk.py.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings, load_settings
from models import User
from pbx.ami import AmiError
from pbx.endpoints import apply_endpoints, endpoint_specs
from pbx.endpoints_conf import (
    ENDPOINTS_INCLUDE,
    EndpointSpec,
    expected_endpoints,
    password_digest,
    render_endpoints,
)

ETC_ASTERISK = Path(__file__).resolve().parent.parent / "etc_asterisk"
DIGEST = password_digest("101", "correct horse")


def test_the_digest_is_pjsips_md5_of_user_realm_and_password() -> None:
    expected = hashlib.md5(b"101:callcards:correct horse", usedforsecurity=False).hexdigest()
    assert f"md5:{expected}" == DIGEST


def test_each_phone_gets_an_endpoint_aor_and_auth_with_only_the_digest() -> None:
    text = render_endpoints(
        [
            EndpointSpec("102", "Иван Петров", "deskphone", password_digest("102", "x" * 16)),
            EndpointSpec("101", 'Ольга "О"; [x]\nПётр', "webrtc", DIGEST),
        ]
    )
    assert "[101](operator-webrtc)\nauth = 101-auth\naors = 101\n" in text
    assert 'callerid = "Ольга О x Пётр" <101>' in text  # no quote, ";" or line break
    assert "[101-auth](operator-auth)\nusername = 101\nrealm = callcards\n" in text
    assert f"password_digest = {DIGEST}" in text
    assert "[102](operator-deskphone)" in text and text.index("[101]") < text.index("[102]")
    assert "correct horse" not in text
    assert expected_endpoints(text) == {"101", "102"}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (EndpointSpec("10;1", "A", "webrtc", DIGEST), "extension"),
        (EndpointSpec("101\n[evil]", "A", "webrtc", DIGEST), "extension"),
        (EndpointSpec("101", "A", "fax", DIGEST), "phone type"),
        (EndpointSpec("101", "A", "webrtc", "md5:plain-password"), "digest"),
    ],
)
def test_what_cannot_be_written_safely_is_refused(spec: EndpointSpec, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        render_endpoints([spec])


class FakePjsip:
    """res_pjsip behind AMI, as far as applying phones goes."""

    def __init__(self, etc: Path) -> None:
        self.etc = etc
        self.running: set[str] = set()
        self.ignore_reloads = False
        self.refuse_reloads = False
        #: The endpoint list comes back garbled once: an error that is not AMI's.
        self.garble_next_list = False
        self.reloads = 0

    def connect(self, _settings: Settings) -> FakePjsip:
        return self

    def __enter__(self) -> FakePjsip:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def action(self, action: str, **fields: str) -> dict[str, str]:
        assert (action, fields) == ("ModuleLoad", {"LoadType": "reload", "Module": "res_pjsip.so"})
        self.reloads += 1
        if self.refuse_reloads:
            raise AmiError("AMI ModuleLoad at 127.0.0.1:5038 failed: Could not reload module.")
        if not self.ignore_reloads:
            self.running = expected_endpoints((self.etc / ENDPOINTS_INCLUDE).read_text())
        return {"Response": "Success"}

    def action_list(self, action: str, **fields: str) -> list[dict[str, str]]:
        assert action == "PJSIPShowEndpoints"
        if self.garble_next_list:
            self.garble_next_list = False
            return [{"Event": "EndpointList"}]  # no ObjectName: a KeyError in the check
        if not self.running:
            raise AmiError("AMI PJSIPShowEndpoints at 127.0.0.1:5038 failed: No endpoints found")
        return [{"Event": "EndpointList", "ObjectName": name} for name in sorted(self.running)]


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    for name in ("pjsip.conf", ENDPOINTS_INCLUDE):
        shutil.copyfile(ETC_ASTERISK / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def with_phone(sessions: sessionmaker[Session]) -> Iterator[None]:
    """operator1 (101) has a phone password; operator2 (102) has none."""
    for digest in (DIGEST, None):
        with sessions() as session, session.begin():
            user = session.scalar(select(User).where(User.login == "operator1"))
            assert user is not None
            user.sip_password_digest = digest
        if digest is not None:
            yield


def _settings(etc: Path) -> Settings:
    return replace(load_settings({}), asterisk_etc_dir=etc)


def test_an_apply_writes_the_phones_reloads_and_checks(
    etc: Path, with_phone: None, sessions: sessionmaker[Session]
) -> None:
    pjsip = FakePjsip(etc)
    with sessions() as session:
        result = apply_endpoints(session, _settings(etc), connect=pjsip.connect)
        assert result.ok and result.changed, result.lines()
        assert pjsip.running == {"101"}
        assert "Иван Петров (102) has no phone password yet: no phone" in result.messages
        again = apply_endpoints(session, _settings(etc), connect=pjsip.connect)
    assert again.ok and not again.changed and pjsip.reloads == 1


@pytest.mark.parametrize("failure", ["ignore_reloads", "refuse_reloads"])
def test_a_refused_apply_puts_the_previous_phones_back(
    etc: Path, with_phone: None, sessions: sessionmaker[Session], failure: str
) -> None:
    pjsip = FakePjsip(etc)
    before = (etc / ENDPOINTS_INCLUDE).read_text()
    setattr(pjsip, failure, True)
    with sessions() as session:
        result = apply_endpoints(session, _settings(etc), connect=pjsip.connect)
    assert not result.ok and result.error is not None
    assert "phone 101" in result.error or "Could not reload" in result.error
    assert (etc / ENDPOINTS_INCLUDE).read_text() == before
    assert "put the previous pjsip_callcards.conf back" in result.messages


def test_an_error_that_is_not_amis_puts_the_previous_phones_back_too(
    etc: Path, with_phone: None, sessions: sessionmaker[Session]
) -> None:
    pjsip = FakePjsip(etc)
    before = (etc / ENDPOINTS_INCLUDE).read_text()
    pjsip.garble_next_list = True
    with sessions() as session:
        result = apply_endpoints(session, _settings(etc), connect=pjsip.connect)
    assert not result.ok and result.error is not None
    assert "checking the reload failed: KeyError('ObjectName')" in result.error
    assert (etc / ENDPOINTS_INCLUDE).read_text() == before
    assert "put the previous pjsip_callcards.conf back" in result.messages
    # Asterisk was asked to reload the previous file, and runs its phones again.
    assert pjsip.reloads == 2
    assert pjsip.running == expected_endpoints(before)


def test_a_pjsip_conf_without_the_include_is_refused_untouched(
    etc: Path, with_phone: None, sessions: sessionmaker[Session]
) -> None:
    (etc / "pjsip.conf").write_text("[global]\ntype = global\n")
    with sessions() as session:
        result = apply_endpoints(session, _settings(etc), connect=FakePjsip(etc).connect)
    assert not result.ok and '#include "pjsip_callcards.conf"' in (result.error or "")


def test_inactive_users_and_users_without_extension_get_no_phone(
    with_phone: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        user = session.scalar(select(User).where(User.login == "operator1"))
        assert user is not None
        user.active = False
        specs, _notes = endpoint_specs(session)
        session.rollback()
    assert specs == []
