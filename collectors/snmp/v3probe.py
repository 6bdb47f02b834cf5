"""Tell an unknown SNMPv3 user from wrong keys.

gufo-snmp reports every USM Report PDU as one "authentication failed". The agent says more:
an unknown user name gets a Report carrying usmStatsUnknownUserNames, a known user asked at a
lower security level gets usmStatsUnsupportedSecLevels. So, only after an authentication
failure, we send one hand-built noAuthNoPriv GET with the same user name and engine id and
look at which counter the Report names. Slow path; never runs on a healthy device.
"""

from __future__ import annotations

import asyncio
import secrets

USM_UNKNOWN_USER_NAMES = bytes([0x2B, 6, 1, 6, 3, 15, 1, 1, 3, 0])
"""BER body of 1.3.6.1.6.3.15.1.1.3.0 (usmStatsUnknownUserNames.0)."""
_SYS_UPTIME = bytes([0x2B, 6, 1, 2, 1, 1, 3, 0])


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + length + body


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8 or 1, "big", signed=True))


def probe_message(user: str, engine_id: bytes, msg_id: int) -> bytes:
    """A v3 noAuthNoPriv, reportable GET of sysUpTime.0 for ``user`` at ``engine_id``."""
    header = _tlv(0x30, _int(msg_id) + _int(65507) + _tlv(0x04, b"\x04") + _int(3))
    usm = _tlv(0x30, _tlv(0x04, engine_id) + _int(0) + _int(0)
               + _tlv(0x04, user.encode()) + _tlv(0x04, b"") + _tlv(0x04, b""))
    varbind = _tlv(0x30, _tlv(0x06, _SYS_UPTIME) + b"\x05\x00")
    pdu = _tlv(0xA0, _int(msg_id) + _int(0) + _int(0) + _tlv(0x30, varbind))
    scoped = _tlv(0x30, _tlv(0x04, engine_id) + _tlv(0x04, b"") + pdu)
    return _tlv(0x30, _int(3) + header + _tlv(0x04, usm) + scoped)


def says_unknown_user(response: bytes) -> bool:
    """Whether a Report names usmStatsUnknownUserNames (a byte search is enough: the OID
    encoding cannot occur by accident inside such a short unencrypted message)."""
    return USM_UNKNOWN_USER_NAMES in response


class _Once(asyncio.DatagramProtocol):
    def __init__(self, answer: asyncio.Future[bytes]) -> None:
        self.answer = answer

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def user_is_unknown(host: str, port: int, user: str, engine_id: bytes,
                          wait: float) -> bool | None:
    """True/False when the agent answered the probe, None when it did not."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Once(answer), remote_addr=(host, port))
    try:
        transport.sendto(probe_message(user, engine_id, secrets.randbelow(2**30) + 1))
        try:
            data = await asyncio.wait_for(answer, wait)
        except (TimeoutError, OSError):
            return None
        return says_unknown_user(data)
    finally:
        transport.close()
