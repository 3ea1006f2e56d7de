"""The certificate of the browser phones: Asterisk's WSS server (http.conf) and DTLS-SRTP media.

`callcards phone-cert` writes (with Debian's openssl) a self-signed pair where http.conf and
pjsip.conf read it (/etc/asterisk/keys/asterisk.crt and asterisk.key), or copies the admin's
own pair there, once openssl says the key is the certificate's.
Browsers check the media's DTLS certificate only by the fingerprint in the SDP, so a
self-signed one is fine for media; the WSS server needs one the browsers trust (the
staff site's, e.g. Let's Encrypt), or each browser must accept it once.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where http.conf (tlscertfile/tlsprivatekey) and pjsip.conf (dtls_cert_file) look.
DEFAULT_KEYS_DIR = Path("/etc/asterisk/keys")
CERT_NAME, KEY_NAME = "asterisk.crt", "asterisk.key"
#: Long enough not to expire under a running site; renew with the same command.
VALID_DAYS = 825
_HOST = re.compile(r"^[A-Za-z0-9.:-]+$")


@dataclass(frozen=True)
class PhoneCert:
    """Where the certificate and its key were written."""

    cert: Path
    key: Path


def write_self_signed(keys_dir: Path, host: str, *, days: int = VALID_DAYS) -> PhoneCert:
    """A new EC P-256 key and a self-signed certificate for `host` (a name or an address)."""
    if not host or not _HOST.match(host):
        raise ValueError(f"host {host!r}: give the name or address browsers use for Asterisk")
    try:
        alt = f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        alt = f"DNS:{host}"
    with tempfile.TemporaryDirectory() as folder:
        cert, key = Path(folder) / CERT_NAME, Path(folder) / KEY_NAME
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-sha256",
            "-days",
            str(days),
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName={alt}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        )
        return _install(keys_dir, cert.read_bytes(), key.read_bytes())


def install_own(keys_dir: Path, cert_file: Path, key_file: Path) -> PhoneCert:
    """The admin's own pair (PEM), checked to belong together, copied where Asterisk reads it."""
    cert_key = _openssl("x509", "-in", str(cert_file), "-noout", "-pubkey")
    key_key = _openssl("pkey", "-in", str(key_file), "-pubout", "-passin", "pass:")
    if cert_key != key_key:
        raise ValueError(f"{key_file} is not the key of {cert_file}")
    return _install(keys_dir, Path(cert_file).read_bytes(), Path(key_file).read_bytes())


def _openssl(*args: str) -> str:
    """Run Debian's openssl; ValueError with its message when it refuses."""
    try:
        done = subprocess.run(
            ["openssl", *args], capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError as error:
        raise ValueError("openssl is not installed (apt-get install openssl)") from error
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()
        raise ValueError(f"openssl {args[0]}: {reason[-1] if reason else 'failed'}")
    return done.stdout


def _install(keys_dir: Path, cert_pem: bytes, key_pem: bytes) -> PhoneCert:
    """Write the pair; the key readable by its owner (and Asterisk's group) only."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    cert, key = keys_dir / CERT_NAME, keys_dir / KEY_NAME
    tmp = key.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    os.replace(tmp, key)
    cert.write_bytes(cert_pem)
    # Debian's Asterisk runs as "asterisk": give it the pair when that user exists.
    if _has_group("asterisk"):
        for path in (cert, key):
            shutil.chown(path, group="asterisk")
    return PhoneCert(cert=cert, key=key)


def _has_group(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
