"""Tell an unknown SNMPv3 user from wrong keys.

gufo-snmp reports every USM Report PDU as one "authentication failed". The agent says more:
an unknown user name gets a Report carrying usmStatsUnknownUserNames, a known user asked at a
lower security level gets usmStatsUnsupportedSecLevels. So, only after an authentication
failure, we send one hand-built noAuthNoPriv GET with the same user name and engine id and
look at which counter the Report names. Slow path; never runs on a healthy device. The
message is written with pubnet's one BER codec (:mod:`pubnet.ber`).
"""

from __future__ import annotations

import asyncio
import secrets

from collectors.deadline import answer_within
from pubnet.ber import NULL, PduType, Tag, encode_int, encode_octets, encode_oid, parse_oid, tlv

USM_UNKNOWN_USER_NAMES = encode_oid(parse_oid("1.3.6.1.6.3.15.1.1.3.0"))
"""The OID TLV of usmStatsUnknownUserNames.0, as a Report carries it."""
_SYS_UPTIME = encode_oid(parse_oid("1.3.6.1.2.1.1.3.0"))
_MAX_SIZE = 65507
_FLAGS_REPORTABLE = b"\x04"
_USM = 3


def probe_message(user: str, engine_id: bytes, msg_id: int) -> bytes:
    """A v3 noAuthNoPriv, reportable GET of sysUpTime.0 for ``user`` at ``engine_id``."""
    seq = Tag.SEQUENCE
    header = tlv(seq, encode_int(msg_id) + encode_int(_MAX_SIZE)
                 + encode_octets(_FLAGS_REPORTABLE) + encode_int(_USM))
    usm = tlv(seq, encode_octets(engine_id) + encode_int(0) + encode_int(0)
              + encode_octets(user) + encode_octets(b"") + encode_octets(b""))
    varbind = tlv(seq, _SYS_UPTIME + NULL)
    pdu = tlv(PduType.GET, encode_int(msg_id) + encode_int(0) + encode_int(0) + tlv(seq, varbind))
    scoped = tlv(seq, encode_octets(engine_id) + encode_octets(b"") + pdu)
    return tlv(seq, encode_int(3) + header + encode_octets(usm) + scoped)


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
            data = await answer_within(answer, wait)
        except (TimeoutError, OSError):
            return None
        return says_unknown_user(data)
    finally:
        transport.close()
