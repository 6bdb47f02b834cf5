"""Checking the files a config names (TLS certificates, keys, CA bundles) before they are
needed, so that a missing or mismatched file is a ``file: key: message`` from ``pubnet config
check`` and ``pubnet run``, not a traceback from the component that opens it minutes later.

The checks load each file the way the components will (:mod:`ssl`), and never print what
is inside.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pubnet.config.root import Config

Problems = list[tuple[str, str]]


def check_files(config: Config) -> Problems:
    """``(key path, message)`` for every named file that cannot be used."""
    problems: Problems = []
    prometheus = config.prometheus
    if prometheus is not None and prometheus.tls_cert_file is not None:
        problems += check_cert_pair(
            ("prometheus.tls_cert_file", prometheus.tls_cert_file),
            ("prometheus.tls_key_file", prometheus.tls_key_file))
    mqtt = config.mqtt
    if mqtt.ca_file is not None:
        problems += check_ca_file("mqtt.ca_file", mqtt.ca_file)
    if mqtt.cert_file is not None:
        problems += check_cert_pair(("mqtt.cert_file", mqtt.cert_file),
                                    ("mqtt.key_file", mqtt.key_file))
    for key, ca_file in _smtp_ca_files(config):
        problems += check_ca_file(key, ca_file)
    return problems


def _smtp_ca_files(config: Config) -> Iterator[tuple[str, Path]]:
    if config.alerting is None:
        return
    for name, channel in config.alerting.channels.items():
        smtp = getattr(channel, "smtp", None)
        if smtp is not None and smtp.ca_file is not None:
            yield f"alerting.channels.{name}.smtp.ca_file", smtp.ca_file


def _readable(key: str, path: Path) -> Problems:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except IsADirectoryError:
        return [(key, f"{path} is a folder, not a file")]
    except OSError as exc:
        return [(key, f"cannot read {path}: {exc.strerror}")]
    return []


def check_ca_file(key: str, path: Path) -> Problems:
    """A CA bundle: readable, and PEM certificates ``ssl`` accepts."""
    problems = _readable(key, path)
    if problems:
        return problems
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError):
        return [(key, f"{path} is not a PEM certificate bundle")]
    return []


def check_cert_pair(cert: tuple[str, Path | None], key: tuple[str, Path | None]) -> Problems:
    """A certificate and its private key: both readable, both PEM, and the key the one
    the certificate was issued for."""
    (cert_key, cert_path), (key_key, key_path) = cert, key
    if cert_path is None or key_path is None:
        return []  # the section's own validator says they go together
    problems = _readable(cert_key, cert_path) + _readable(key_key, key_path)
    if problems:
        return problems
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(cert_path))
    except (ssl.SSLError, ValueError):
        return [(cert_key, f"{cert_path} is not a PEM certificate")]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # A password of "" instead of None: an encrypted key must fail here, not prompt on
        # the terminal of a daemon.
        context.load_cert_chain(str(cert_path), str(key_path), password="")
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or exc.reason == "KEY_VALUES_MISMATCH":
            return [(key_key, f"{key_path} is not the key of the certificate {cert_path}")]
        return [(key_key, f"{key_path} is not an unencrypted PEM private key")]
    return []
