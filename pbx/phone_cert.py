"""The certificate of the browser phones: Asterisk's WSS server (http.conf) and DTLS-SRTP media.

`callcards phone-cert` writes a self-signed pair where http.conf and pjsip.conf read it
(/etc/asterisk/keys/asterisk.crt and asterisk.key), or copies the admin's own pair there.
Browsers check the media's DTLS certificate only by the fingerprint in the SDP, so a
self-signed one is fine for media; the WSS server needs one the browsers trust (the
staff site's, e.g. Let's Encrypt), or each browser must accept it once.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: Where http.conf (tlscertfile/tlsprivatekey) and pjsip.conf (dtls_cert_file) look.
DEFAULT_KEYS_DIR = Path("/etc/asterisk/keys")
CERT_NAME, KEY_NAME = "asterisk.crt", "asterisk.key"
#: Long enough not to expire under a running site; renew with the same command.
VALID_DAYS = 825


@dataclass(frozen=True)
class PhoneCert:
    """Where the certificate and its key were written."""

    cert: Path
    key: Path


def write_self_signed(keys_dir: Path, host: str, *, days: int = VALID_DAYS) -> PhoneCert:
    """A new EC P-256 key and a self-signed certificate for `host` (a name or an address)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if not host or any(ch.isspace() for ch in host):
        raise ValueError(f"host {host!r}: give the name or address browsers use for Asterisk")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return _install(keys_dir, cert.public_bytes(serialization.Encoding.PEM), key_pem)


def install_own(keys_dir: Path, cert_file: Path, key_file: Path) -> PhoneCert:
    """The admin's own pair (PEM), checked to belong together, copied where Asterisk reads it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_pem, key_pem = Path(cert_file).read_bytes(), Path(key_file).read_bytes()
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as error:
        raise ValueError(f"not a PEM certificate and unencrypted PEM key: {error}") from error
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (cert.public_key().public_bytes(serialization.Encoding.PEM, public)
            != key.public_key().public_bytes(serialization.Encoding.PEM, public)):
        raise ValueError(f"{key_file} is not the key of {cert_file}")
    return _install(keys_dir, cert_pem, key_pem)


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
