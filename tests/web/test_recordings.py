"""Recordings: streamed with HTTP Range, downloads only for supervisors and admins, audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry
from tests.web.conftest import login, user_id, write_tone


@pytest.fixture
def recorded_call(make_call: Callable[..., int], recordings_dir: Path) -> tuple[int, bytes]:
    """A card with a real WAV recording; returns its id and the file's bytes."""
    path = write_tone(recordings_dir / "2026" / "03" / "02" / "1700000000.42.wav")
    return make_call(recording_path="2026/03/02/1700000000.42.wav"), path.read_bytes()


def _audit(sessions: sessionmaker[Session]) -> list[tuple[str, int | None, int | None]]:
    with sessions() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.user_id, AuditEntry.call_id)
            .where(AuditEntry.action.like("recording.%"))
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_player_gets_ranges_and_can_seek(
    client: FlaskClient, recorded_call: tuple[int, bytes]
) -> None:
    call_id, data = recorded_call
    login(client, "operator1")
    with client.get(f"/calls/{call_id}/recording", headers={"Range": "bytes=0-"}) as start:
        assert start.status_code == 206
        assert start.headers["Accept-Ranges"] == "bytes"
        assert start.headers["Content-Range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
        assert start.mimetype in {"audio/wav", "audio/x-wav"}
        assert start.data == data
    with client.get(f"/calls/{call_id}/recording", headers={"Range": "bytes=24000-24999"}) as seek:
        assert seek.status_code == 206
        assert seek.headers["Content-Range"] == f"bytes 24000-24999/{len(data)}"
        assert seek.data == data[24000:25000]
    with client.get(f"/calls/{call_id}/recording") as whole:
        assert whole.status_code == 200
        assert "attachment" not in whole.headers.get("Content-Disposition", "")


def test_operators_may_not_download(
    client: FlaskClient, recorded_call: tuple[int, bytes], sessions: sessionmaker[Session]
) -> None:
    call_id, _ = recorded_call
    login(client, "operator1")
    assert client.get(f"/calls/{call_id}/recording?download=true").status_code == 403
    assert "download=true" not in client.get(f"/calls/{call_id}").text
    assert _audit(sessions) == []


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_download(
    client: FlaskClient,
    recorded_call: tuple[int, bytes],
    sessions: sessionmaker[Session],
    role: str,
) -> None:
    call_id, data = recorded_call
    login(client, role)
    assert "download=true" in client.get(f"/calls/{call_id}").text
    with client.get(f"/calls/{call_id}/recording?download=true") as response:
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.data == data
    assert _audit(sessions) == [("recording.download", user_id(sessions, role), call_id)]


def test_one_listen_is_audited_once_however_often_the_player_seeks(
    client: FlaskClient, recorded_call: tuple[int, bytes], sessions: sessionmaker[Session]
) -> None:
    call_id, _ = recorded_call
    login(client, "supervisor")
    for header in ("bytes=0-", "bytes=5000-", "bytes=0-", "bytes=30000-"):
        client.get(f"/calls/{call_id}/recording", headers={"Range": header}).close()
    assert _audit(sessions) == [("recording.listen", user_id(sessions, "supervisor"), call_id)]
    login(client, "admin")
    client.get(f"/calls/{call_id}/recording", headers={"Range": "bytes=0-"}).close()
    assert len(_audit(sessions)) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "There is no recording for this call."),
        (b"RIFF" + b"\0" * 40, "The recording file is empty"),
    ],
)
def test_a_missing_or_empty_file_is_said_plainly(
    client: FlaskClient,
    make_call: Callable[..., int],
    recordings_dir: Path,
    content: bytes | None,
    message: str,
) -> None:
    name = f"2026/03/03/{'empty' if content else 'gone'}.wav"
    if content is not None:
        (recordings_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (recordings_dir / name).write_bytes(content)
    call_id = make_call(recording_path=name)
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    page = client.get(f"/calls/{call_id}").text
    assert message in page
    assert "<audio" not in page
    response = client.get(f"/calls/{call_id}/recording")
    assert response.status_code == 404
    assert "no recording" in response.text


@pytest.fixture
def file_outside(recordings_dir: Path) -> Path:
    """A real recording beside the recordings folder, where no card may reach."""
    return write_tone(recordings_dir.parent / "outside" / "secret.wav")


@pytest.mark.parametrize("kind", ["dot-dot", "absolute", "symlink"])
def test_a_card_naming_a_file_outside_the_folder_gets_no_file(
    client: FlaskClient,
    make_call: Callable[..., int],
    recordings_dir: Path,
    file_outside: Path,
    kind: str,
) -> None:
    if kind == "dot-dot":
        name = f"../{file_outside.parent.name}/{file_outside.name}"
    elif kind == "absolute":
        name = str(file_outside)
    else:
        link = recordings_dir / "2026" / "03" / "04" / "link.wav"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(file_outside)
        name = "2026/03/04/link.wav"
    # The target is real: without the guard the site would stream it.
    assert (recordings_dir / name).resolve() == file_outside.resolve()
    call_id = make_call(recording_path=name)
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    for query in ("", "?download=true"):
        response = client.get(f"/calls/{call_id}/recording{query}")
        assert response.status_code == 404
        assert response.data != file_outside.read_bytes()
    assert "<audio" not in client.get(f"/calls/{call_id}").text


def test_the_file_comes_from_the_card_never_from_the_request(
    client: FlaskClient, make_call: Callable[..., int], file_outside: Path
) -> None:
    call_id = make_call(recording_path="2026/03/05/gone.wav")
    login(client, "admin")
    assert client.get(f"/calls/{call_id}/recording").status_code == 404
    for query in (
        f"path={file_outside}",
        "path=../outside/secret.wav",
        f"file={file_outside}",
        f"recording_path={file_outside}",
    ):
        response = client.get(f"/calls/{call_id}/recording?{query}")
        assert response.status_code == 404
        assert response.data != file_outside.read_bytes()
