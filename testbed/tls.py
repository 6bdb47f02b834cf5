"""Throw-away certificates for the test servers (Mosquitto, SMTP, the HTTP listener): one
way to build a certificate valid from five minutes ago for a day, and to write PEM files."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOCAL_NAMES = x509.SubjectAlternativeName([
    x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
"""What a client connecting to a test server on this machine checks the certificate for."""


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def common_name(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def builder(subject: x509.Name, issuer: x509.Name,
            key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    """A certificate for ``key``'s public half, valid from five minutes ago (clock skew)
    for a day; the caller adds extensions and signs."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost and its key: ``cert.pem`` and
    ``key.pem`` in ``folder``."""
    key = new_key()
    name = common_name("localhost")
    cert = (
        builder(name, name, key)
        .add_extension(LOCAL_NAMES, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return write_cert(cert, folder / "cert.pem"), write_key(key, folder / "key.pem")
