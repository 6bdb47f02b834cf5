"""The BER framing check that stands between the network and gufo-snmp's decoder."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from gufo.snmp import _fast
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.snmp import ber_check
from collectors.snmp.ber_check import Malformed, check
from pubnet.ber import PduType, Version, encode_message, tlv
from tests.collectors.snmp.fake_agent import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    Request,
    ber_oid,
    parse_request,
    response,
)

REQ = Request(0xA0, 0x12345678, ["1.3.6.1.2.1.1.3.0"], 0, b"public")
VALUES: list[object] = [0, -1, 2**31 - 1, -(2**31), b"", b"eth0", "บ้านไร่".encode() * 30,
                        NO_SUCH_INSTANCE, END_OF_MIB_VIEW]


def varbinds(n: int) -> list[tuple[str, object]]:
    return [(f"1.3.6.1.2.1.31.1.1.1.{c}.{i}", VALUES[(c + i) % len(VALUES)])
            for c in range(1, 7) for i in range(1, n + 1)]


@pytest.mark.parametrize("answer", [
    response(REQ, []),
    response(REQ, [("1.3.6.1.2.1.1.3.0", 42)]),
    response(REQ, varbinds(4)),
    response(REQ, varbinds(40)),  # long-form lengths everywhere
    response(REQ, [("1.3.6.1.2.1.1.1.0", b"x" * 300)]),  # a long-form varbind
    response(REQ, [], error_status=1),
], ids=["empty", "one", "24-varbinds", "240-varbinds", "long-varbind", "tooBig"])
def test_well_formed_answers_pass(answer: bytes) -> None:
    check(answer)


def _rebuild(value: bytes) -> bytes:
    """An answer whose one varbind holds ``value`` (raw BER)."""
    vb = tlv(0x30, ber_oid("1.3.6.1.2.1.1.3.0") + value)
    return encode_message(Version.V2C, REQ.community, PduType.RESPONSE, REQ.request_id, 0, 0,
                          vb)


@pytest.mark.parametrize(("value", "ok"), [
    (tlv(0x41, b"\x00\xff\xff\xff\xff"), True),           # Counter32 2^32-1
    (tlv(0x41, b"\x01\x00\x00\x00\x00"), False),          # Counter32 2^32: gufo keeps 0
    (tlv(0x41, b"\x00" * 6), False),
    (tlv(0x46, b"\x00" + b"\xff" * 8), True),             # Counter64 2^64-1
    (tlv(0x46, b"\x01" + b"\x00" * 8), False),            # Counter64 2^64: gufo keeps 0
    (tlv(0x43, b"\x01\x00\x00\x00\x00"), False),          # TimeTicks over 32 bits
    (tlv(0x02, b"\x7f" + b"\xff" * 7), True),             # INTEGER in 64 bits
    (tlv(0x02, b"\x01" + b"\x00" * 8), False),            # 9-byte INTEGER
    (tlv(0x40, b"\x7f\x00\x00\x01"), True),               # IpAddress
    (tlv(0x05, b""), True),
    (tlv(0x03, b"\x00\x01"), False),                      # BIT STRING
    (tlv(0x09, b"\x40"), False),                          # REAL
    (tlv(0x01, b"\x01"), False),                          # BOOLEAN
    (tlv(0x0D, b"\x01\x02"), False),                      # RELATIVE-OID as a value
], ids=lambda v: v.hex() if isinstance(v, bytes) else str(v))
def test_value_types_and_sizes(value: bytes, ok: bool) -> None:
    answer = _rebuild(value)
    if ok:
        check(answer)
    else:
        with pytest.raises(Malformed):
            check(answer)


@pytest.mark.parametrize("answer", [
    b"",
    b"\x30",
    b"\x30\x00",
    b"\x30\x84\xff\xff\xff\xff",
    b"\x30\x85\x00\x00\x00\x00\x01\x00",  # five length bytes
    response(REQ, [("1.3.6.1.2.1.1.3.0", 1)]) + b"\x00",  # trailing byte
    response(REQ, [("1.3.6.1.2.1.1.3.0", 1)])[:-1],
    tlv(0x30, b"\x02\x01\x07" + tlv(0x04, b"public")),  # version 7
], ids=["empty", "one-byte", "empty-sequence", "huge-length", "five-length-bytes",
        "trailing", "truncated", "version-7"])
def test_broken_framing_is_malformed(answer: bytes) -> None:
    with pytest.raises(Malformed):
        check(answer)


@pytest.fixture(scope="module")
def gufo_pair() -> Iterator[tuple[socket.socket, object]]:
    """A gufo v2c socket and the plain UDP socket it talks to (its "agent")."""
    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.bind(("127.0.0.1", 0))
    sock = _fast.SnmpV2cClientSocket(f"127.0.0.1:{agent.getsockname()[1]}", "public",
                                     0, 0, 0, 0)
    yield agent, sock
    agent.close()


def mutations() -> st.SearchStrategy[tuple[int, list[tuple[int, int]], int]]:
    return st.tuples(
        st.integers(1, 12),
        st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                 max_size=4),
        st.integers(0, 64),
    )


@settings(max_examples=400, deadline=None)
@given(mutation=mutations())
def test_what_passes_the_check_never_makes_gufo_panic(
        gufo_pair: tuple[socket.socket, object], mutation: tuple[int, list[tuple[int, int]], int]
) -> None:
    """Random byte changes and cuts of real answers: whatever passes the check, gufo-snmp
    decodes without panicking (it may still reject it, with its own SnmpDecodeError)."""
    agent, sock = gufo_pair
    rows, changes, cut = mutation
    sock.send_get_many(["1.3.6.1.2.1.1.3.0"])  # type: ignore[attr-defined]
    request, peer = agent.recvfrom(65536)
    req = parse_request(request)
    data = bytearray(response(req, [(req.oids[0], 1), *varbinds(rows)[: rows * 3]]))
    for where, byte in changes:
        data[where % len(data)] = byte
    if cut:
        del data[-cut:]
    try:
        check(bytes(data))
    except Malformed:
        return
    agent.sendto(bytes(data), peer)
    agent.sendto(response(req, [(req.oids[0], 1)]), peer)  # then the real answer
    deadline = time.monotonic() + 5
    while True:  # until gufo returns the real answer (or the mutated one, if still ours)
        try:
            sock.recv_get_many()  # type: ignore[attr-defined]
        except BlockingIOError:
            assert time.monotonic() < deadline, "the answers never arrived"
            time.sleep(0.001)
            continue
        except BaseException as exc:
            assert type(exc).__name__ != "PanicException", bytes(data).hex()
            continue  # gufo rejected the mutated answer: the real one is next
        break
    with contextlib.suppress(BlockingIOError):  # the real answer, when the mutated one won
        time.sleep(0.002)
        sock.recv_get_many()  # type: ignore[attr-defined]


def test_cost_per_varbind_is_small() -> None:
    """The check runs on every answer: print its cost (docs, module docstring) and keep it
    well under gufo-snmp's own decoding cost of a few µs per varbind."""
    answer = response(REQ, varbinds(5))
    count = 2000
    start = time.perf_counter()
    for _ in range(count):
        ber_check.check(answer)
    per_varbind = (time.perf_counter() - start) / count / 30
    print(f"ber_check: {per_varbind * 1e6:.2f} µs per varbind")
    assert per_varbind < 5e-6


def assert_same_verdict(framing: ber_check.Framing, data: bytes) -> None:
    """``framing`` (what it remembers of earlier answers) judges ``data`` as the full check
    does: malformed for one, malformed for the other."""
    try:
        check(data)
    except Malformed:
        with pytest.raises(Malformed):
            framing.check(data)
    else:
        framing.check(data)


@settings(max_examples=500, deadline=None)
@given(changes=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                        max_size=3), values=st.lists(st.integers(0, 2**32 - 1), min_size=30,
                                                     max_size=30))
def test_framing_memory_agrees_with_the_full_check(changes: list[tuple[int, int]],
                                                   values: list[int]) -> None:
    """An answer accepted from memory (same length, same framing bytes as the last one)
    is exactly one the full check accepts: after a good answer, any same-length change of
    bytes — in values or in headers — gets the same verdict from both."""
    framing = ber_check.Framing()
    first = response(REQ, [(o, 1234567) for o, _ in varbinds(5)])
    framing.check(first)
    data = bytearray(response(REQ, [(o, 1_048_576 + v % 7_000_000) for (o, _), v
                                    in zip(varbinds(5), values, strict=True)]))
    assert len(data) == len(first)
    for where, byte in changes:
        data[where % len(data)] = byte
    assert_same_verdict(framing, bytes(data))


def test_cost_of_a_remembered_framing() -> None:
    framing = ber_check.Framing()
    answer = response(REQ, varbinds(5))
    framing.check(answer)
    again = answer.replace(b"eth0", b"eth1")
    count = 5000
    start = time.perf_counter()
    for _ in range(count):
        framing.check(again)
    per_answer = (time.perf_counter() - start) / count
    print(f"ber_check.Framing: {per_answer * 1e6:.2f} µs for a 30-varbind answer framed "
          "like the last one")
    assert per_answer < 30e-6


def test_conversations_share_the_framing_of_alike_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Devices of one model answer alike: their conversations hold one remembered framing
    between them (~1.4 kB a device for a 30-varbind answer), and each still checks on its
    own; past the bound a conversation keeps its own."""
    shapes: ber_check.Shapes = {}
    one, two = ber_check.Framing(shapes), ber_check.Framing(shapes)
    one.check(response(REQ, varbinds(5)))
    two.check(response(REQ, varbinds(5)).replace(b"eth0", b"eth9"))  # same framing
    assert one._shape is two._shape and len(shapes) == 1
    longer = response(REQ, [*varbinds(5), ("1.3.6.1.2.1.1.5.0", b"gw")])
    two.check(longer)
    assert one._shape is not two._shape and len(shapes) == 2
    one.check(response(REQ, varbinds(5)).replace(b"eth0", b"eth7"))
    bad = bytearray(response(REQ, varbinds(5)))
    bad[0] = 0x31  # not a SEQUENCE: a framing byte of the shared shape
    with pytest.raises(Malformed):
        one.check(bytes(bad))
    monkeypatch.setattr(ber_check, "MAX_SHARED_SHAPES", 2)
    three = ber_check.Framing(shapes)
    three.check(response(REQ, varbinds(4)))
    assert len(shapes) == 2
    three.check(response(REQ, varbinds(4)))


def counting_full_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the full checks :class:`ber_check.Framing` falls back to."""
    calls: list[int] = []
    full = ber_check.check

    def counted(data: bytes, seen: ber_check.Seen = None) -> None:
        calls.append(len(data))
        full(data, seen)

    monkeypatch.setattr(ber_check, "check", counted)
    return calls


def test_framing_remembers_each_get_of_a_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """A device whose GET takes two PDUs a poll (more OIDs than ``MAX_GET_VARBINDS``) gets
    two answers of two shapes each poll: each is walked once, not every poll (with only the
    last shape remembered, every answer of such a device was walked and its mask rebuilt)."""
    calls = counting_full_checks(monkeypatch)
    framing = ber_check.Framing({})
    first = response(REQ, varbinds(5))
    second = response(REQ, varbinds(2))
    for poll in range(5):
        framing.check(first.replace(b"eth0", b"eth%d" % poll))
        framing.check(second.replace(b"eth0", b"eth%d" % poll))
    assert calls == [len(first), len(second)]


def test_framing_keeps_one_shape_per_length_and_a_few(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer whose values changed length replaces the shape of its length; beyond
    ``MAX_HELD`` lengths the oldest shape is forgotten (and walked again when it comes
    back)."""
    calls = counting_full_checks(monkeypatch)
    framing = ber_check.Framing()
    a = response(REQ, [("1.3.6.1.2.1.1.3.0", 5), ("1.3.6.1.2.1.1.5.0", b"ab")])
    a_moved = response(REQ, [("1.3.6.1.2.1.1.3.0", 500), ("1.3.6.1.2.1.1.5.0", b"a")])
    assert len(a) == len(a_moved) and a != a_moved
    framing.check(a)
    framing.check(a_moved)  # same length, another framing: walked, replaces a
    framing.check(a)
    assert len(calls) == 3
    others = [response(REQ, varbinds(n)) for n in range(1, ber_check.MAX_HELD + 1)]
    for answer in others:
        framing.check(answer)
    assert len(calls) == 3 + ber_check.MAX_HELD
    for answer in others:  # the last MAX_HELD lengths are held
        framing.check(answer)
    assert len(calls) == 3 + ber_check.MAX_HELD
    framing.check(a)  # forgotten
    assert len(calls) == 4 + ber_check.MAX_HELD


@settings(max_examples=300, deadline=None)
@given(changes=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                        max_size=3), values=st.lists(st.integers(0, 2**32 - 1), min_size=30,
                                                     max_size=30),
       earlier=st.booleans())
def test_every_remembered_framing_agrees_with_the_full_check(
        changes: list[tuple[int, int]], values: list[int], earlier: bool) -> None:
    """Like the test above, against a framing remembered before the last one."""
    framing = ber_check.Framing()
    first = response(REQ, [(o, 1234567) for o, _ in varbinds(5)])
    other = response(REQ, [(o, 7) for o, _ in varbinds(3)])
    for answer in ((first, other) if earlier else (other, first)):
        framing.check(answer)
    data = bytearray(response(REQ, [(o, 1_048_576 + v % 7_000_000) for (o, _), v
                                    in zip(varbinds(5), values, strict=True)]))
    for where, byte in changes:
        data[where % len(data)] = byte
    assert_same_verdict(framing, bytes(data))
