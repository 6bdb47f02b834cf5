"""Structured logs: key=value and JSON, Thai kept readable, fields from ``extra``."""

from __future__ import annotations

import io
import json
import logging

from pubnet.logs import setup_logging


def test_key_value_lines_with_thai_and_fields() -> None:
    out = io.StringIO()
    setup_logging("info", "kv", stream=out)
    logging.getLogger("pubnet.test").info("site down", extra={"site": "บ้านหนองบัว 3",
                                                              "device": "gw-1"})
    line = out.getvalue().strip()
    assert 'msg="site down"' in line
    assert 'site="บ้านหนองบัว 3"' in line
    assert "device=gw-1" in line
    assert "level=info" in line


def test_json_lines() -> None:
    out = io.StringIO()
    setup_logging("debug", "json", secrets=["hunter2-secret"], stream=out)
    logging.getLogger("pubnet.test").warning("login with hunter2-secret", extra={"n": 3})
    data = json.loads(out.getvalue())
    assert data["level"] == "warning" and data["n"] == 3
    assert "hunter2-secret" not in out.getvalue()


def test_library_chatter_hidden_unless_debug() -> None:
    out = io.StringIO()
    setup_logging("info", "kv", stream=out)
    logging.getLogger("transitions.core").info("Finished processing state callbacks")
    logging.getLogger("amqtt.broker").warning("client went away")
    assert "Finished processing" not in out.getvalue()
    assert "client went away" in out.getvalue()
    out = io.StringIO()
    setup_logging("debug", "kv", stream=out)
    logging.getLogger("transitions.core").info("Finished processing state callbacks")
    assert "Finished processing" in out.getvalue()


HOSTILE = "evil3\r\x1b[2K\x1b[31mFAKE\x00\x7f\x9b31m\u202egnp.exe\u2028next"


def test_key_value_escapes_control_characters() -> None:
    """A value from the network (an MQTT topic, a trap varbind) cannot forge or recolour a
    log line: CR, ESC, NUL, DEL, C1, bidi overrides and line separators are escaped, in the
    message and in fields; Thai stays readable."""
    out = io.StringIO()
    setup_logging("info", "kv", stream=out)
    logging.getLogger("pubnet.test").warning("mqtt message dropped device=%s", HOSTILE,
                                             extra={"device": HOSTILE, "site": "บ้าน\x1b"})
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    for raw in ("\r", "\x1b", "\x00", "\x7f", "\x9b", "\u202e", "\u2028"):
        assert raw not in line, repr(raw)
    assert r'device="evil3\r\u001b[2K\u001b[31mFAKE\u0000\u007f\u009b31m\u202egnp.exe' in line
    assert r'site="บ้าน\u001b"' in line


def test_json_escapes_control_characters() -> None:
    out = io.StringIO()
    setup_logging("info", "json", stream=out)
    logging.getLogger("pubnet.test").warning("dropped %s", HOSTILE, extra={"device": HOSTILE})
    line = out.getvalue()
    assert line.count("\n") == 1
    for raw in ("\r", "\x1b", "\x00", "\x7f", "\x9b", "\u202e", "\u2028"):
        assert raw not in line, repr(raw)
    data = json.loads(line)
    assert data["device"] == HOSTILE and data["msg"] == f"dropped {HOSTILE}"  # lossless
