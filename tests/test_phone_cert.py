"""`callcards phone-cert`: the certificate Asterisk's WSS server and DTLS-SRTP media read."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest

from callcards.cli import main


def test_a_self_signed_pair_is_written_where_asterisk_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert main(["phone-cert", "--host", "pbx.clinic.example", "--keys-dir", str(keys)]) == 0
    cert, key = keys / "asterisk.crt", keys / "asterisk.key"
    assert "asterisk.crt" in capsys.readouterr().out
    # A TLS server loads the pair as Asterisk's http.conf would (they belong together).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    assert stat.S_IMODE(key.stat().st_mode) & 0o007 == 0  # the key is not world-readable
    decoded = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]
    assert ("DNS", "pbx.clinic.example") in decoded["subjectAltName"]


def test_the_admin_s_own_pair_is_checked_before_it_replaces_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, keys = tmp_path / "first", tmp_path / "second", tmp_path / "keys"
    assert main(["phone-cert", "--host", "10.0.0.5", "--keys-dir", str(first)]) == 0
    assert main(["phone-cert", "--host", "10.0.0.6", "--keys-dir", str(second)]) == 0
    mismatched = [
        "phone-cert",
        "--cert",
        str(first / "asterisk.crt"),
        "--key",
        str(second / "asterisk.key"),
        "--keys-dir",
        str(keys),
    ]
    assert main(mismatched) == 1
    assert "is not the key of" in capsys.readouterr().err
    assert not (keys / "asterisk.crt").exists()
    assert main(["phone-cert", "--cert", str(first / "asterisk.crt"), "--keys-dir", str(keys)]) == 2
    own = [
        "phone-cert",
        "--cert",
        str(first / "asterisk.crt"),
        "--key",
        str(first / "asterisk.key"),
        "--keys-dir",
        str(keys),
    ]
    assert main(own) == 0
    assert (keys / "asterisk.crt").read_bytes() == (first / "asterisk.crt").read_bytes()
