"""``pubnet.failures.FailureLog``: a run of failures is logged once when it starts and once
when it ends, with its duration and fields as structured ``extra`` key/values."""

from __future__ import annotations

import logging

import pytest

from pubnet.failures import FailureLog

log = logging.getLogger("test.failures")


def test_a_run_of_failures_is_two_lines_with_the_duration(
        caplog: pytest.LogCaptureFixture) -> None:
    now = 100.0
    latch = FailureLog(log, "thing failing, will retry", "thing recovered",
                       clock=lambda: now, thing="t-1")
    caplog.set_level(logging.INFO, logger="test.failures")
    assert not latch.worked()  # working all along: nothing to say
    assert latch.failed(error="first") and latch.failing and latch.since == 100.0
    now = 112.34
    assert not latch.failed(error="second")
    assert latch.worked() and not latch.failing
    assert not latch.worked()
    records = [(r.levelno, r.getMessage(), getattr(r, "thing", None), getattr(r, "error", None),
                getattr(r, "failed_for_s", None)) for r in caplog.records]
    assert records == [(logging.WARNING, "thing failing, will retry", "t-1", "first", None),
                       (logging.INFO, "thing recovered", "t-1", None, 12.3)]


def test_no_recovery_message_ends_the_run_quietly(caplog: pytest.LogCaptureFixture) -> None:
    latch = FailureLog(log, "cannot read", level=logging.ERROR, duration_field="outage_s")
    caplog.set_level(logging.INFO, logger="test.failures")
    assert latch.failed() and latch.worked() and latch.failed()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "cannot read"), (logging.ERROR, "cannot read")]
