"""Prompt uploads become 8 kHz mono WAV Asterisk plays; oversized or odd files are refused."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from models.routing import IvrMenu
from models.session import transaction
from tests.web.conftest import login
from webadmin.callflow.sounds import MAX_UPLOAD_BYTES, prompt_name


@pytest.fixture
def prompts_dir(app: Flask) -> Iterator[Path]:
    """The app's prompts folder, empty when the test starts and emptied after it."""
    folder: Path = app.config["CALLCARDS_SETTINGS"].prompts_dir
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    """A client signed in as the demo administrator, in English."""
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    return client


def studio_wav(seconds: float = 1.0, rate: int = 44100) -> bytes:
    """A CD-quality stereo tone, as a studio would deliver a greeting."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        sample = int(12000 * math.sin(2 * math.pi * 440 * n / rate))
        frames += struct.pack("<hh", sample, sample // 2)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def upload(client: FlaskClient, content: bytes, filename: str, **fields: str) -> TestResponse:
    """Post a file to the upload form as a browser would."""
    # Encoded in memory: the test client spools a body over 500 KB to a file it never closes.
    boundary, body = encode_multipart(
        MultiDict([("audio", FileStorage(io.BytesIO(content), filename)), *fields.items()])
    )
    return client.post(
        "/callflow/prompts", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_an_uploaded_wav_becomes_8khz_mono_16bit(admin: FlaskClient, prompts_dir: Path) -> None:
    response = upload(admin, studio_wav(1.5), "Greeting 2026.wav")
    assert response.status_code == 302, response.text
    stored = prompts_dir / "greeting-2026.wav"
    with wave.open(str(stored), "rb") as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert abs(audio.getnframes() / 8000 - 1.5) < 0.05
    page = admin.get("/callflow/prompts").text
    assert "callcards/greeting-2026" in page
    listened = admin.get("/callflow/prompts/greeting-2026.wav")
    body = listened.get_data()
    listened.close()  # a file is streamed
    assert listened.status_code == 200 and body[:4] == b"RIFF"


@pytest.mark.parametrize("suffix", ["mp3", "ogg"])
def test_mp3_and_ogg_are_converted_too(
    admin: FlaskClient, prompts_dir: Path, tmp_path: Path, suffix: str
) -> None:
    source = tmp_path / "studio.wav"
    source.write_bytes(studio_wav())
    encoded = tmp_path / f"studio.{suffix}"
    subprocess.run(["sox", str(source), str(encoded)], check=True)
    response = upload(admin, encoded.read_bytes(), f"studio.{suffix}", name="menu_intro")
    assert response.status_code == 302, response.text
    with wave.open(str(prompts_dir / "menu_intro.wav"), "rb") as audio:
        assert (audio.getframerate(), audio.getnchannels()) == (8000, 1)


def test_an_oversized_upload_is_refused(admin: FlaskClient, prompts_dir: Path) -> None:
    response = upload(admin, b"RIFF" + b"\0" * MAX_UPLOAD_BYTES, "long.wav")
    assert response.status_code == 400
    assert "The file is larger than 10 MB" in response.text
    assert not (prompts_dir / "long.wav").exists()


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("notes.txt", b"hello", "Upload a WAV, MP3 or OGG file."),
        ("greeting.flac", b"fLaC", "Upload a WAV, MP3 or OGG file."),
        ("fake.wav", b"this is not audio at all", "The file could not be converted to a prompt"),
        ("привет.wav", None, "Give the prompt a name of Latin letters, digits and dashes."),
    ],
)
def test_unsupported_uploads_are_refused(
    admin: FlaskClient, prompts_dir: Path, filename: str, content: bytes | None, message: str
) -> None:
    response = upload(admin, content or studio_wav(0.2), filename)
    assert response.status_code == 400
    assert message in response.text
    assert list(prompts_dir.glob("*.wav")) == []


def test_a_prompt_is_replaced_only_when_asked(admin: FlaskClient, prompts_dir: Path) -> None:
    assert upload(admin, studio_wav(0.5), "hello.wav", name="welcome").status_code == 302
    again = upload(admin, studio_wav(1.0), "hello.wav", name="welcome")
    assert again.status_code == 400
    assert "A prompt “welcome” exists already" in again.text
    assert (
        upload(admin, studio_wav(1.0), "hello.wav", name="welcome", replace="y").status_code == 302
    )
    with wave.open(str(prompts_dir / "welcome.wav"), "rb") as audio:
        assert audio.getnframes() == 8000


def test_an_uploaded_prompt_is_usable_in_a_menu_and_then_kept(
    admin: FlaskClient, prompts_dir: Path, sessions: sessionmaker[Session]
) -> None:
    assert upload(admin, studio_wav(0.5), "x.wav", name="main-greeting").status_code == 302
    with transaction(sessions) as session:
        menu = session.scalar(select(IvrMenu).where(IvrMenu.name == "main"))
        assert menu is not None
        menu.prompt = "callcards/main-greeting"
    overview = admin.get("/callflow/").text
    assert "The draft is ready" in overview
    response = admin.post("/callflow/prompts/main-greeting/delete", follow_redirects=True)
    assert "is played by the draft or the published flow" in response.text
    assert (prompts_dir / "main-greeting.wav").exists()


def test_an_unused_prompt_is_deleted(admin: FlaskClient, prompts_dir: Path) -> None:
    assert upload(admin, studio_wav(0.5), "x.wav", name="old").status_code == 302
    admin.post("/callflow/prompts/old/delete")
    assert not (prompts_dir / "old.wav").exists()


def test_names_from_the_request_never_make_a_path() -> None:
    assert prompt_name("../../etc/passwd") == "etc-passwd"
    assert prompt_name("Main Greeting") == "main-greeting"
    assert prompt_name("..") is None
    assert prompt_name("привет") is None
