"""Answer one SNMP request for one simulated device: bytes in, bytes (or nothing) out.

Pure apart from its counters, so it is tested without sockets and benchmarked in isolation.
Semantics follow RFC 3416: GET answers noSuchObject/noSuchInstance per varbind (v1: the
noSuchName error), GETNEXT/GETBULK walk the sorted tree and answer endOfMibView past its end,
GETBULK trims repetitions to fit ``max_response`` and a GET that cannot fit is tooBig.
A wrong community is dropped silently, as real agents do. SNMPv3 requests go through
:mod:`simulator.usm` (discovery and error reports included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pubnet.ber import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    BerError,
    Decoder,
    ErrorStatus,
    PduType,
    Request,
    Tag,
    Version,
    encode_int,
    encode_message,
    encode_oid,
    encode_unsigned,
    message_version,
    tlv,
)
from simulator.device import SimDevice, mix
from simulator.mib import Shape
from simulator.usm import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    NOT_IN_TIME_WINDOWS,
    TIME_WINDOW,
    UNKNOWN_ENGINE_IDS,
    UNKNOWN_USER_NAMES,
    UNSUPPORTED_SEC_LEVELS,
    WRONG_DIGESTS,
    KeyCache,
    LocalUser,
    UsmError,
    V3Message,
    build_v3,
    parse_scoped,
    parse_v3,
    verify,
)

MAX_REPETITIONS = 64
"""Cap on GETBULK max-repetitions, like net-snmp's default guard against abuse."""

Answer = tuple[bytes, int, int]
"""Encoded varbinds, error status, error index."""


@dataclass(slots=True)
class AgentStats:
    """What the agent did since start; the simulator logs it and the benchmark reads it."""

    requests: int = 0
    responses: int = 0
    varbinds: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    reports: Counter[str] = field(default_factory=Counter)


class Agent:
    """Decodes, answers and encodes. One per simulator process, shared by every device."""

    def __init__(self, max_response: int = 1472) -> None:
        self.max_response = max_response
        self.decoder = Decoder()
        self.stats = AgentStats()
        self.keys = KeyCache()

    def respond(self, device: SimDevice, shape: Shape, data: bytes, now: float) -> bytes | None:
        """The response datagram for ``data``, or None when the device stays silent."""
        stats = self.stats
        stats.requests += 1
        try:
            request = self.decoder.decode(data)
        except BerError:
            try:
                v3 = message_version(data) == Version.V3
            except BerError:
                v3 = False
            if v3:
                return self._respond_v3(device, shape, data, now)
            stats.dropped["decode"] += 1
            return None
        if request.community != device.community:
            stats.dropped["community"] += 1
            return None

        def wrap(answer: Answer) -> bytes:
            return encode_message(request.version, request.community, PduType.RESPONSE,
                                  request.request_id, answer[1], answer[2], answer[0])

        return self._finish(device, shape, request, now, wrap, 40 + len(request.community))

    def _finish(self, device: SimDevice, shape: Shape, request: Request, now: float,
                wrap: Callable[[Answer], bytes], overhead: int) -> bytes | None:
        pdu = request.pdu_type
        v1 = request.version == Version.V1
        if v1:
            shape = shape.without_counter64()
        if pdu == PduType.GET or pdu == PduType.GETNEXT:
            answer = self._get(device, shape, request, now, v1, pdu == PduType.GETNEXT)
        elif pdu == PduType.GETBULK and not v1:
            answer = self._getbulk(device, shape, request, now, self.max_response - overhead)
        else:
            self.stats.dropped["unsupported_pdu"] += 1
            return None
        response = wrap(answer)
        if len(response) > self.max_response:
            response = wrap((self._echo(request), ErrorStatus.TOO_BIG, 0))
        if device.faults.malformed:
            response = self._corrupt(device, response)
        self.stats.responses += 1
        return response

    # -- PDUs -----------------------------------------------------------------------------

    @staticmethod
    def _varbind(device: SimDevice, shape: Shape, pos: int, now: float) -> bytes:
        """The encoded varbind at ``pos``; values that never change are encoded once."""
        key = shape.oid_tlvs[pos]
        cached = device.varbinds.get(key)
        if cached is not None:
            return cached
        part = tlv(0x30, key + shape.getters[pos](device, now, shape.args[pos]))
        if shape.static[pos]:
            device.varbinds[key] = part
        return part

    @staticmethod
    def _echo(request: Request) -> bytes:
        """The request's own varbinds with NULL values (for error responses)."""
        return b"".join(tlv(0x30, encode_oid(oid) + b"\x05\x00") for oid in request.oids)

    def _get(self, device: SimDevice, shape: Shape, request: Request, now: float,
             v1: bool, following: bool) -> Answer:
        """GET (the varbind at each OID) or, when ``following``, GETNEXT (the first one after
        each): an OID with no answer is noSuchName in v1, and a value exception in v2c/v3."""
        positions = shape.positions
        size = len(shape.oids)
        parts: list[bytes] = []
        for number, oid in enumerate(request.oids, 1):
            pos = shape.next_position(oid) if following else positions.get(oid, size)
            if pos >= size:
                if v1:
                    return self._echo(request), ErrorStatus.NO_SUCH_NAME, number
                if following:
                    value = END_OF_MIB_VIEW
                else:
                    value = NO_SUCH_INSTANCE if oid[:-1] in shape.objects else NO_SUCH_OBJECT
                parts.append(tlv(0x30, encode_oid(oid) + value))
                continue
            parts.append(self._varbind(device, shape, pos, now))
        self.stats.varbinds += len(parts)
        return b"".join(parts), 0, 0

    def _getbulk(self, device: SimDevice, shape: Shape, request: Request, now: float,
                 budget: int) -> Answer:
        oids = request.oids
        non_repeaters = min(max(request.non_repeaters, 0), len(oids))
        repetitions = min(max(request.max_repetitions, 0), MAX_REPETITIONS)
        size = len(shape.oids)
        varbind_at = self._varbind
        parts: list[bytes] = []
        used = 0
        for oid in oids[:non_repeaters]:
            pos = shape.next_position(oid)
            if pos >= size:
                part = tlv(0x30, encode_oid(oid) + END_OF_MIB_VIEW)
            else:
                part = varbind_at(device, shape, pos, now)
            used += len(part)
            parts.append(part)
        if used > budget:
            return self._echo(request), ErrorStatus.TOO_BIG, 0
        cursors = [shape.next_position(oid) for oid in oids[non_repeaters:]]
        names = list(oids[non_repeaters:])
        full = False
        for _ in range(repetitions if cursors else 0):
            all_ended = True
            for column, pos in enumerate(cursors):
                if pos >= size:
                    part = tlv(0x30, encode_oid(names[column]) + END_OF_MIB_VIEW)
                else:
                    all_ended = False
                    part = varbind_at(device, shape, pos, now)
                    names[column] = shape.oids[pos]
                    cursors[column] = pos + 1
                used += len(part)
                if used > budget:
                    full = True
                    break
                parts.append(part)
            if full or all_ended:
                break
        self.stats.varbinds += len(parts)
        return b"".join(parts), 0, 0

    # -- SNMPv3 ---------------------------------------------------------------------------

    def _local_user(self, device: SimDevice, name: bytes) -> LocalUser | None:
        found = device.local_users.get(name)
        if found is None:
            spec = device.users.get(name)
            if spec is None:
                return None
            found = device.local_users[name] = LocalUser.build(spec, device.engine_id,
                                                               self.keys)
        return found

    def _respond_v3(self, device: SimDevice, shape: Shape, data: bytes,
                    now: float) -> bytes | None:
        try:
            message = parse_v3(data)
        except BerError:
            self.stats.dropped["decode"] += 1
            return None
        try:
            return self._answer_v3(device, shape, message, now)
        except UsmError as exc:
            if exc.report is not UNKNOWN_ENGINE_IDS:  # discovery is no failure
                self.stats.dropped[f"usm_{exc.reason}"] += 1
            if exc.report is None or not message.flags & FLAG_REPORTABLE:
                return None
            return self._report(device, message, exc.report, now)
        except BerError:
            self.stats.dropped["decode"] += 1
            return None

    def _answer_v3(self, device: SimDevice, shape: Shape, message: V3Message,
                   now: float) -> bytes | None:
        if message.engine_id != device.engine_id:
            raise UsmError("unknown_engine_id", UNKNOWN_ENGINE_IDS)
        user = self._local_user(device, message.user)
        if user is None:
            raise UsmError("unknown_user", UNKNOWN_USER_NAMES)
        flags = message.flags & (FLAG_AUTH | FLAG_PRIV)
        if flags != user.spec.flags:
            raise UsmError("unsupported_sec_level", UNSUPPORTED_SEC_LEVELS)
        boots, engine_time = device.engine_boots, device.engine_time(now)
        if flags & FLAG_AUTH:
            if not verify(message, user):
                raise UsmError("wrong_digest", WRONG_DIGESTS)
            if message.boots != boots or abs(message.engine_time - engine_time) > TIME_WINDOW:
                raise UsmError("not_in_time_window", NOT_IN_TIME_WINDOWS)
        scoped = message.data
        if flags & FLAG_PRIV:
            scoped = user.decrypt(scoped, message.boots, message.engine_time,
                                  message.priv_params)
        try:
            _context_engine, context_name, pdu = parse_scoped(scoped)
        except (BerError, IndexError) as exc:
            raise UsmError("decrypt" if flags & FLAG_PRIV else "decode", None) from exc
        request = self.decoder.decode_pdu(pdu)
        overhead = 120 + len(device.engine_id) * 2 + len(message.user) + len(context_name)

        def wrap(answer: Answer) -> bytes:
            body = tlv(PduType.RESPONSE, encode_int(request.request_id) + encode_int(answer[1])
                       + encode_int(answer[2]) + tlv(Tag.SEQUENCE, answer[0]))
            scoped_out = tlv(Tag.SEQUENCE, tlv(Tag.OCTET_STRING, device.engine_id)
                             + tlv(Tag.OCTET_STRING, context_name) + body)
            return build_v3(message.msg_id, flags, device.engine_id, boots, engine_time,
                            message.user, scoped_out, user)

        return self._finish(device, shape, request, now, wrap, overhead)

    def _report(self, device: SimDevice, message: V3Message, oid: tuple[int, ...],
                now: float) -> bytes:
        """A Report PDU carrying one usmStats counter (discovery, or why we refused)."""
        name = ".".join(map(str, oid[-2:]))
        self.stats.reports[name] += 1
        request_id = 0
        if not message.flags & FLAG_PRIV:
            try:
                request_id = self.decoder.decode_pdu(parse_scoped(message.data)[2]).request_id
            except (BerError, IndexError):
                request_id = 0
        user: LocalUser | None = None
        flags = 0
        if oid == NOT_IN_TIME_WINDOWS:
            user = self._local_user(device, message.user)
            flags = FLAG_AUTH
        varbind = tlv(Tag.SEQUENCE, encode_oid(oid) + encode_unsigned(
            Tag.COUNTER32, self.stats.reports[name]))
        body = tlv(PduType.REPORT, encode_int(request_id) + encode_int(0) + encode_int(0)
                   + tlv(Tag.SEQUENCE, varbind))
        scoped = tlv(Tag.SEQUENCE, tlv(Tag.OCTET_STRING, device.engine_id)
                     + tlv(Tag.OCTET_STRING, b"") + body)
        return build_v3(message.msg_id, flags, device.engine_id, device.engine_boots,
                        device.engine_time(now), message.user, scoped, user)

    # -- faults ---------------------------------------------------------------------------

    def _corrupt(self, device: SimDevice, response: bytes) -> bytes:
        """A response a client must reject, cycling through the ways agents get it wrong."""
        faults = device.faults
        kind = faults.malformed_count % 5
        faults.malformed_count += 1
        if kind == 0:  # truncated in the middle of the varbinds
            return response[: max(2, len(response) // 2)]
        if kind == 1:  # the request id of some other request
            try:
                request = self.decoder.decode(response)
            except BerError:
                return response[:-1]
            return encode_message(request.version, request.community, PduType.RESPONSE,
                                  (request.request_id + 1) & 0x7FFFFFFF, 0, 0, b"")
        if kind == 2:  # random garbage
            seed = mix(device.seed, device.index, faults.malformed_count)
            return seed.to_bytes(8, "big") * 4
        if kind == 3:  # outer length claims more than was sent
            return b"\x30\x84\x7f\xff\xff\xff" + response[2:]
        return b"\x30\x03\x02\x01\x07"  # a SEQUENCE holding only a version of 7
