"""The agent and BER codec without sockets: RFC 3416 semantics and hostile bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pubnet.ber import (
    END_OF_MIB_VIEW,
    BerError,
    Decoder,
    ErrorStatus,
    PduType,
    Request,
    decode_oid_body,
    decode_value,
    encode_int,
    encode_message,
    encode_oid,
    encode_oid_body,
    encode_unsigned,
    varbind,
)
from simulator.fleet import AddressPlan, Fleet
from simulator.mib import IF_HC_IN_OCTETS, IF_NAME, SYS_NAME, SYS_UPTIME
from tests.simulator.support import small_inventory

NOW = 1_780_000_000.0


def make_fleet(max_response: int = 1472) -> Fleet:
    return Fleet.from_inventory(small_inventory(), AddressPlan("127.1.0.0", 161), seed=3,
                                clock=lambda: NOW, max_response=max_response)


def request(pdu: int, *oids: tuple[int, ...], version: int = 1, a: int = 0, b: int = 0,
            community: bytes = b"public") -> bytes:
    vbs = b"".join(varbind(encode_oid(o), b"\x05\x00") for o in oids)
    return encode_message(version, community, pdu, 4242, a, b, vbs)


def ask(fleet: Fleet, device: str, data: bytes) -> Request | None:
    dev = fleet.device(device)
    answer = fleet.agent.respond(dev, fleet.shapes.get(dev), data, NOW)
    return None if answer is None else Decoder().decode(answer)


def test_get_answers_values_and_no_such_instance() -> None:
    fleet = make_fleet()
    reply = ask(fleet, "gw-1", request(PduType.GET, SYS_NAME, (*SYS_NAME[:-1], 99),
                                       (1, 3, 6, 1, 9, 9, 9)))
    assert reply is not None and reply.pdu_type == PduType.RESPONSE
    assert reply.request_id == 4242
    assert decode_value(reply.values[0]) == b"gw-1"
    assert reply.values[1] == b"\x81\x00"  # noSuchInstance: sysName exists, .99 does not
    assert reply.values[2] == b"\x80\x00"  # noSuchObject


def test_getnext_walks_in_order_and_ends_with_end_of_mib_view() -> None:
    fleet = make_fleet()
    shape = fleet.shapes.get(fleet.device("gw-1"))
    oid: tuple[int, ...] = (1, 3)
    seen = []
    while True:
        reply = ask(fleet, "gw-1", request(PduType.GETNEXT, oid))
        assert reply is not None
        if reply.values[0] == END_OF_MIB_VIEW:
            break
        oid = reply.oids[0]
        seen.append(oid)
    assert seen == shape.oids


def test_getbulk_repeats_columns_and_honours_non_repeaters() -> None:
    fleet = make_fleet()
    reply = ask(fleet, "dist-1", request(PduType.GETBULK, SYS_UPTIME[:-1], IF_NAME,
                                         IF_HC_IN_OCTETS, a=1, b=3))
    assert reply is not None
    assert reply.oids[0] == SYS_UPTIME
    assert reply.oids[1:] == ((*IF_NAME, 1), (*IF_HC_IN_OCTETS, 1), (*IF_NAME, 2),
                              (*IF_HC_IN_OCTETS, 2), (*IF_NAME, 3), (*IF_HC_IN_OCTETS, 3))


def test_getbulk_is_trimmed_to_the_response_size() -> None:
    fleet = make_fleet(max_response=400)
    data = request(PduType.GETBULK, (1, 3, 6, 1, 2, 1, 2, 2, 1), b=60)
    raw = fleet.agent.respond(fleet.device("dist-1"), fleet.shapes.get(fleet.device("dist-1")),
                              data, NOW)
    assert raw is not None and len(raw) <= 400
    reply = Decoder().decode(raw)
    assert 3 < len(reply.oids) < 60 and reply.non_repeaters == 0  # no error, just fewer


def test_get_that_cannot_fit_is_too_big() -> None:
    fleet = make_fleet(max_response=120)
    reply = ask(fleet, "gw-1", request(PduType.GET, *[(*IF_NAME, i) for i in range(1, 5)],
                                       SYS_NAME, (1, 3, 6, 1, 2, 1, 1, 1, 0)))
    assert reply is not None and reply.non_repeaters == ErrorStatus.TOO_BIG


def test_v1_get_of_a_missing_object_is_no_such_name_with_its_index() -> None:
    fleet = make_fleet()
    reply = ask(fleet, "gw-1", request(PduType.GET, SYS_NAME, (*IF_HC_IN_OCTETS, 1),
                                       version=0))
    assert reply is not None
    assert (reply.non_repeaters, reply.max_repetitions) == (ErrorStatus.NO_SUCH_NAME, 2)


def test_v1_getnext_past_the_last_object_is_no_such_name_with_its_index() -> None:
    fleet = make_fleet()
    reply = ask(fleet, "gw-1", request(PduType.GETNEXT, SYS_NAME, (2, 0), version=0))
    assert reply is not None
    assert (reply.non_repeaters, reply.max_repetitions) == (ErrorStatus.NO_SUCH_NAME, 2)


@pytest.mark.parametrize("data", [
    request(PduType.GET, SYS_NAME, community=b"private"),
    request(PduType.GETBULK, SYS_NAME, version=0),
    request(PduType.SET, SYS_NAME),
    b"",
    b"\x30\x80\x02\x01\x01\x00\x00",
], ids=["wrong-community", "v1-getbulk", "set", "empty", "indefinite-length"])
def test_requests_that_get_no_answer(data: bytes) -> None:
    fleet = make_fleet()
    assert ask(fleet, "gw-1", data) is None
    assert sum(fleet.agent.stats.dropped.values()) == 1


def test_malformed_fault_answers_never_decode_to_a_good_reply() -> None:
    fleet = make_fleet()
    fleet.malform("gw-1")
    data = request(PduType.GET, SYS_NAME)
    dev = fleet.device("gw-1")
    for _ in range(10):
        raw = fleet.agent.respond(dev, fleet.shapes.get(dev), data, NOW)
        assert raw is not None
        try:
            reply = Decoder().decode(raw)
        except BerError:
            continue
        assert reply.request_id != 4242 or not reply.values


def test_values_depend_only_on_seed_and_time() -> None:
    a, b = make_fleet(), make_fleet()
    data = request(PduType.GETBULK, (1, 3, 6, 1, 2, 1), b=50)
    for dev in ("gw-1", "dist-1", "ap-1"):
        da, db = a.device(dev), b.device(dev)
        assert a.agent.respond(da, a.shapes.get(da), data, NOW) == \
            b.agent.respond(db, b.shapes.get(db), data, NOW)


@given(st.binary(max_size=300))
def test_decoder_raises_only_ber_error(data: bytes) -> None:
    try:
        Decoder().decode(data)
    except BerError:
        pass


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20),
       st.integers(0, 2), st.integers(0, 39))
def test_oid_round_trip(tail: list[int], first: int, second: int) -> None:
    oid = (first, second, *tail)
    assert decode_oid_body(encode_oid_body(oid)) == oid


@given(st.integers(-(2**63), 2**63 - 1))
def test_integer_round_trip(value: int) -> None:
    assert decode_value(encode_int(value)) == value


@given(st.integers(0, 2**64 - 1))
def test_counter64_round_trip(value: int) -> None:
    assert decode_value(encode_unsigned(0x46, value)) == value


def _v3_request() -> bytes:
    from pubnet.ber import Tag, tlv
    from simulator.usm import FLAG_REPORTABLE, build_v3

    scoped = tlv(Tag.SEQUENCE, tlv(Tag.OCTET_STRING, b"") + tlv(Tag.OCTET_STRING, b"")
                 + request(PduType.GET, SYS_NAME)[13:])
    return build_v3(1, FLAG_REPORTABLE, b"", 0, 0, b"", scoped, None)


SEEDS = [request(PduType.GET, SYS_NAME), request(PduType.GETBULK, IF_NAME, b=10),
         _v3_request()]


def test_v3_discovery_request_gets_a_report() -> None:
    from simulator.usm import UNKNOWN_ENGINE_IDS, parse_scoped, parse_v3

    fleet = make_fleet()
    dev = fleet.device("gw-1")
    raw = fleet.agent.respond(dev, fleet.shapes.get(dev), _v3_request(), NOW)
    assert raw is not None
    reply = parse_v3(raw)
    assert reply.engine_id == dev.engine_id and reply.flags == 0
    report = Decoder().decode_pdu(parse_scoped(reply.data)[2])
    assert report.pdu_type == PduType.REPORT and report.oids == (UNKNOWN_ENGINE_IDS,)
    assert report.request_id == 4242


@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)),
                                        max_size=6), st.integers(0, 200))
def test_agent_survives_mutated_requests(seed: bytes, flips: list[tuple[int, int]],
                                         cut: int) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    fleet = make_fleet()
    dev = fleet.device("gw-1")
    answer = fleet.agent.respond(dev, fleet.shapes.get(dev), bytes(data[: len(data) - cut % 8]),
                                 NOW)
    assert answer is None or isinstance(answer, bytes)
