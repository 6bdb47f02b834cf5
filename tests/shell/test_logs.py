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
