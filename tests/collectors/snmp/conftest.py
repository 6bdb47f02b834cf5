"""A real net-snmp snmpd for the SNMP collector tests (one per test session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.snmpd import Agent, run_snmpd
from tests.support import require_binary


@pytest.fixture(scope="session")
def snmpd_agent() -> Iterator[Agent]:
    snmpd = require_binary("snmpd")
    with run_snmpd(snmpd) as agents:
        yield agents[0]
