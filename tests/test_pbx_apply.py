"""Applying queues: the file, the reload, the check, and every way back when Asterisk says no.

Asterisk here is a fake that behaves like app_queue behind AMI (QueueReload reads the live
file, QueueStatus lists what runs), so the failures that cannot be made to happen on demand
(AMI down, a reload ignored or refused, a connection lost mid-apply) can be. The real
Asterisk is in test_pbx_asterisk.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards.cli import main
from callcards.config import Settings, load_settings
from callcards.sandbox.render import TEST_MEMBER_INTERFACE
from models import Queue, QueueMember, User
from pbx.ami import AmiError
from pbx.apply import apply_queues, pending_diff, queue_specs
from pbx.queue_state import RunningQueue
from pbx.queues_conf import QUEUES_INCLUDE, expected_queues, render_queues
from tests.agi_process import free_port

ETC_ASTERISK = Path(__file__).resolve().parent.parent / "etc_asterisk"
WHERE = "127.0.0.1:5038"


class FakeAsterisk:
    """app_queue behind AMI, as far as applying queues goes."""

    def __init__(self, etc: Path) -> None:
        self.etc = etc
        self.running: dict[str, RunningQueue] = {}
        self.reloads = 0
        self.down = False  # new connections are refused
        self.ignore_reloads = False  # QueueReload says Success and changes nothing
        self.refuse_reloads = False  # QueueReload answers Error
        self.drop_before_reload = False  # the next QueueReload's connection dies, unread
        self.drop_after_reload = False  # the next QueueReload is done, its reply lost
        self.load()

    def load(self) -> None:
        """Run what the live file says (what a successful reload does)."""
        live = self.etc / QUEUES_INCLUDE
        text = live.read_text() if live.exists() else ""
        self.running = {
            name: RunningQueue(
                name, queue.strategy or "ringall", queue.service_level_sec, queue.members
            )
            for name, queue in expected_queues(text).items()
        }

    def connect(self, _settings: Settings) -> FakeSession:
        if self.down:
            raise AmiError(f"AMI at {WHERE} is unreachable: [Errno 111] Connection refused")
        return FakeSession(self)


class FakeSession:
    """One AMI session on the fake."""

    def __init__(self, asterisk: FakeAsterisk) -> None:
        self.asterisk = asterisk
        self.closed = False

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.closed = True

    def action(self, action: str, **fields: str) -> dict[str, str]:
        assert (action, fields) == (
            "QueueReload",
            {"Members": "yes", "Rules": "yes", "Parameters": "yes"},
        )
        asterisk = self._alive()
        if asterisk.drop_before_reload:
            asterisk.drop_before_reload = False
            self._drop()
        if asterisk.refuse_reloads:
            raise AmiError(f"AMI QueueReload at {WHERE} failed: Error encountered while reloading")
        asterisk.reloads += 1
        if not asterisk.ignore_reloads:
            asterisk.load()
        if asterisk.drop_after_reload:
            asterisk.drop_after_reload = False
            self._drop()
        return {"Response": "Success", "Message": "Queue reloaded successfully"}

    def action_list(self, action: str, **fields: str) -> list[dict[str, str]]:
        assert action == "QueueStatus"
        events = []
        for queue in self._alive().running.values():
            events.append(
                {
                    "Event": "QueueParams",
                    "Queue": queue.name,
                    "Strategy": queue.strategy,
                    "ServiceLevel": str(queue.service_level_sec or 0),
                }
            )
            for member in queue.static_members:
                events.append(
                    {
                        "Event": "QueueMember",
                        "Queue": queue.name,
                        "Name": member.name,
                        "Location": member.interface,
                        "Penalty": str(member.penalty),
                        "Membership": "static",
                    }
                )
        return events

    def _alive(self) -> FakeAsterisk:
        if self.closed:
            raise AmiError(f"AMI at {WHERE}: not connected")
        return self.asterisk

    def _drop(self) -> None:
        self.closed = True
        raise AmiError(f"AMI QueueReload at {WHERE} failed: Asterisk closed the connection")


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """An Asterisk config folder with our queues.conf and the committed generated file."""
    for name in ("queues.conf", QUEUES_INCLUDE):
        shutil.copyfile(ETC_ASTERISK / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def settings(etc: Path) -> Settings:
    """Settings whose members are the sandbox's (so the committed file is out of date)."""
    return replace(load_settings({}), asterisk_etc_dir=etc, member_interface=TEST_MEMBER_INTERFACE)


@pytest.fixture
def asterisk(etc: Path) -> FakeAsterisk:
    return FakeAsterisk(etc)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the demo data; whatever a test adds is rolled back."""
    with sessions() as session:
        yield session
        session.rollback()


def committed() -> str:
    return (ETC_ASTERISK / QUEUES_INCLUDE).read_text()


def wanted(session: Session, settings: Settings) -> str:
    return render_queues(queue_specs(session)[0], settings.member_interface)


def test_apply_writes_the_file_reloads_and_sees_asterisk_run_it(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    result = apply_queues(session, settings, connect=asterisk.connect)

    assert (result.ok, result.changed, result.error) == (True, True, None)
    assert (etc / QUEUES_INCLUDE).read_text() == wanted(session, settings)
    assert (etc / f"{QUEUES_INCLUDE}.bak").read_text() == committed()
    assert asterisk.reloads == 1
    assert asterisk.running["appointments"].static_members == (
        expected_queues(wanted(session, settings))["appointments"].members
    )
    assert any(m.startswith("Asterisk runs: appointments: ") for m in result.messages)
    assert result.lines()[-1] == "applied: Asterisk runs the new queues"


def test_applying_again_says_nothing_changed_and_does_not_reload(
    session: Session, settings: Settings, asterisk: FakeAsterisk
) -> None:
    apply_queues(session, settings, connect=asterisk.connect)

    again = apply_queues(session, settings, connect=asterisk.connect)

    assert (again.ok, again.changed) == (True, False)
    assert asterisk.reloads == 1
    assert again.lines()[-1] == "nothing to apply: Asterisk already runs these queues"


def test_file_already_right_but_not_running_is_reloaded(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    (etc / QUEUES_INCLUDE).write_text(wanted(session, settings))  # written, never reloaded

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert (result.ok, result.changed, asterisk.reloads) == (True, True, 1)


def test_ami_down_changes_nothing(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    asterisk.down = True

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert (result.ok, result.changed) == (False, False)
    assert result.error == (
        f"AMI at {WHERE} is unreachable: [Errno 111] Connection refused; nothing was changed"
    )
    assert (etc / QUEUES_INCLUDE).read_text() == committed()
    assert not (etc / f"{QUEUES_INCLUDE}.bak").exists()


def test_reload_asterisk_ignores_puts_the_previous_file_back(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    asterisk.ignore_reloads = True
    before = dict(asterisk.running)

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(
        "Asterisk did not take the new queues: queue appointments: "
        "operator Local/101@cc-test-operators/n is missing; "
    )
    assert "operator PJSIP/101 should not be a member" in result.error
    assert result.error.endswith("the previous queues are back in place")
    assert (etc / QUEUES_INCLUDE).read_text() == committed()
    assert asterisk.running == before
    assert asterisk.reloads == 2  # the apply, then the way back


def test_refused_reload_puts_the_previous_file_back(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    asterisk.refuse_reloads = True

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert not result.ok
    assert "Error encountered while reloading" in (result.error or "")
    assert (etc / QUEUES_INCLUDE).read_text() == committed()


def test_connection_lost_after_the_reload_reloads_the_previous_file_on_a_new_one(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    before = dict(asterisk.running)
    asterisk.drop_after_reload = True  # Asterisk took the new file; its reply never came

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert not result.ok
    assert "Asterisk closed the connection" in (result.error or "")
    assert (result.error or "").endswith("the previous queues are back in place")
    assert (etc / QUEUES_INCLUDE).read_text() == committed()
    assert asterisk.running == before
    assert asterisk.reloads == 2


def test_asterisk_gone_for_the_way_back_too_says_to_apply_again(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    asterisk.drop_before_reload = True
    real_connect = asterisk.connect
    opened = []

    def connect_once(settings: Settings) -> FakeSession:
        opened.append(1)
        if len(opened) > 1:
            asterisk.down = True
        return real_connect(settings)

    result = apply_queues(session, settings, connect=connect_once)

    assert not result.ok
    assert "could not be asked to reload it" in (result.error or "")
    assert (result.error or "").endswith("apply again once AMI answers")
    assert (etc / QUEUES_INCLUDE).read_text() == committed()


def test_deactivated_queue_leaves_the_file_and_asterisk(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    reception = session.scalars(select(Queue).where(Queue.name == "reception")).one()
    reception.active = False
    session.flush()

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert result.ok, result.error
    assert "[reception]" not in (etc / QUEUES_INCLUDE).read_text()
    assert sorted(asterisk.running) == ["appointments"]


def test_removed_queue_that_keeps_running_is_a_failure(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    (etc / QUEUES_INCLUDE).write_text(wanted(session, settings))
    asterisk.load()
    reception = session.scalars(select(Queue).where(Queue.name == "reception")).one()
    reception.active = False
    session.flush()
    asterisk.ignore_reloads = True

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert not result.ok
    assert "queue reception: still runs in Asterisk, though it was removed" in (result.error or "")
    assert "[reception]" in (etc / QUEUES_INCLUDE).read_text()


def test_operators_without_an_extension_or_inactive_are_left_out_with_a_note(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    appointments = session.scalars(select(Queue).where(Queue.name == "appointments")).one()
    for login, extension, active in (("pbx-noext", None, True), ("pbx-gone", "109", False)):
        user = User(login=login, name=login, password_hash="x", extension=extension, active=active)
        user.memberships = [QueueMember(queue=appointments, penalty=1)]
        session.add(user)
    session.flush()

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert result.ok, result.error
    assert "queue appointments: pbx-noext has no extension, so not rung" in result.messages
    assert "queue appointments: pbx-gone is not active, so not rung" in result.messages
    assert "109" not in (etc / QUEUES_INCLUDE).read_text()


def test_queue_name_asterisk_cannot_take_fails_before_anything_is_touched(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    session.add(Queue(name="general", title="General"))
    session.flush()

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert not result.ok
    assert "'general' is reserved in queues.conf" in (result.error or "")
    assert (etc / QUEUES_INCLUDE).read_text() == committed()
    assert asterisk.reloads == 0


def test_without_the_config_folder_setting_apply_says_what_to_set(
    session: Session, settings: Settings, asterisk: FakeAsterisk
) -> None:
    result = apply_queues(
        session, replace(settings, asterisk_etc_dir=None), connect=asterisk.connect
    )

    assert not result.ok
    assert (result.error or "").startswith("CALLCARDS_ASTERISK_ETC is not set")


def test_queues_conf_without_the_include_is_refused(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    (etc / "queues.conf").write_text("[general]\npersistentmembers = no\n")

    result = apply_queues(session, settings, connect=asterisk.connect)

    assert not result.ok
    assert (result.error or "").endswith(f'add #include "{QUEUES_INCLUDE}"')
    assert (etc / QUEUES_INCLUDE).read_text() == committed()


def test_new_file_keeps_the_permissions_of_the_old_one(
    session: Session, settings: Settings, asterisk: FakeAsterisk, etc: Path
) -> None:
    (etc / QUEUES_INCLUDE).chmod(0o640)

    apply_queues(session, settings, connect=asterisk.connect)

    assert (etc / QUEUES_INCLUDE).stat().st_mode & 0o777 == 0o640


def test_pending_diff_shows_what_apply_would_change(
    session: Session, settings: Settings, asterisk: FakeAsterisk
) -> None:
    diff = pending_diff(session, settings)

    assert "-member => PJSIP/101,0,Ольга Операторова" in diff
    assert "+member => Local/101@cc-test-operators/n,0,Ольга Операторова" in diff
    apply_queues(session, settings, connect=asterisk.connect)
    assert pending_diff(session, settings) == ""


def test_cli_show_prints_the_diff_and_apply_fails_without_ami(
    database_url: str,
    etc: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CALLCARDS_ASTERISK_ETC", str(etc))
    monkeypatch.setenv("CALLCARDS_MEMBER_INTERFACE", TEST_MEMBER_INTERFACE)
    monkeypatch.setenv("CALLCARDS_AMI_PORT", str(free_port()))  # nothing listens there

    assert main(["asterisk", "show"]) == 0
    assert "+member => Local/102@cc-test-operators/n,0,Иван Петров" in capsys.readouterr().out
    assert main(["asterisk", "apply"]) == 1
    error = capsys.readouterr().err
    assert "FAILED: AMI at 127.0.0.1:" in error and "nothing was changed" in error
    assert (etc / QUEUES_INCLUDE).read_text() == committed()
