"""Our own SNMP exception types, so that callers never see a library's exceptions.

Each maps onto exactly one :class:`pubnet.model.PollStatus` (see :func:`status_for`), which
is how every poll ends in one status whatever the client library underneath.
"""

from __future__ import annotations

from pubnet.model import PollStatus


class SnmpError(Exception):
    """Any SNMP failure not covered by a more specific type (maps to ``error``)."""

    status: PollStatus = PollStatus.ERROR


class SnmpTimeout(SnmpError, TimeoutError):
    """No valid answer within timeout × (retries + 1). Also what a wrong v1/v2c community
    looks like on the wire: agents stay silent (RFC 3584)."""

    status = PollStatus.TIMEOUT


class SnmpAuthError(SnmpError):
    """SNMPv3 authentication or privacy failed (wrong keys, wrong protocol, time window)."""

    status = PollStatus.AUTH_FAILED


class SnmpUnknownUser(SnmpAuthError):
    """The agent does not know the SNMPv3 user name (usmStatsUnknownUserNames)."""

    status = PollStatus.UNKNOWN_USER


class SnmpNoSuchName(SnmpError):
    """The agent answered but has none of the requested objects (v1 noSuchName, or every
    varbind of a GET came back noSuchObject/noSuchInstance)."""

    status = PollStatus.NO_SUCH_NAME


class SnmpUnreachable(SnmpError):
    """The address cannot be reached: ICMP port/host unreachable, no route, bad address."""

    status = PollStatus.UNREACHABLE


def status_for(exc: BaseException) -> PollStatus:
    """The poll status an exception stands for; anything unexpected is ``error``."""
    if isinstance(exc, SnmpError):
        return exc.status
    if isinstance(exc, TimeoutError):
        return PollStatus.TIMEOUT
    return PollStatus.ERROR
