"""Line protocol: tags, escaping, timestamps and rejected values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.influx.lineproto import LineEncoder, Rejected, RejectedPoint, device_tags
from pubnet.model import Observation, Source
from tests.exporters.helpers import small_inventory


def encode(obs: Observation) -> str | RejectedPoint:
    return LineEncoder(device_tags(small_inventory())).encode(obs)


def test_tags_fields_and_nanosecond_timestamp() -> None:
    obs = Observation("gw1", "pubnet_interface_receive_bytes_total", 12345, 1700000000.123456,
                      Source.SNMP, (("ifname", "eth0"),))
    assert encode(obs) == (
        "pubnet_interface_receive_bytes_total,device=gw1,ifname=eth0,province=40,site=S1 "
        "value=12345.0 1700000000123456000"
    )


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a b", "a\\ b"),
        ("a,b", "a\\,b"),
        ("a=b", "a\\=b"),
        ("line1\nline2", "line1\\nline2"),
        ("บ้าน หนองบัว", "บ้าน\\ หนองบัว"),
        ("ends\\", "ends\\\\"),
        ("mid\\dle", "mid\\dle"),
    ],
    ids=["space", "comma", "equals", "newline", "thai", "trailing-backslash", "backslash"],
)
def test_tag_values_are_escaped(value: str, escaped: str) -> None:
    line = encode(Observation("x", "pubnet_ap_clients", 1.0, 1.0, Source.SNMP,
                              (("radio", value),)))
    assert line == f"pubnet_ap_clients,device=x,radio={escaped} value=1.0 1000000000"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_are_rejected_with_a_reason(value: float) -> None:
    got = encode(Observation("gw1", "pubnet_ap_clients", value, 1.0, Source.SNMP))
    assert got == RejectedPoint(Rejected.NON_FINITE, "gw1", "pubnet_ap_clients")


def test_reserved_and_empty_names_are_rejected() -> None:
    assert isinstance(encode(Observation("gw1", "m", 1.0, 1.0, Source.SNMP,
                                         (("_field", "x"),))), RejectedPoint)
    assert isinstance(encode(Observation("", "m", 1.0, 1.0, Source.SNMP)), RejectedPoint)
    # empty tag values are left out (line protocol has none), the point still goes
    line = encode(Observation("gw1", "m", 1.0, 1.0, Source.SNMP, (("radio", ""),)))
    assert isinstance(line, str) and "radio" not in line


_TEXT = st.text(alphabet=st.sampled_from("ab,= \\\nบ_z1"), max_size=6)
_NAMES = st.sampled_from(["ifname", "radio", "site", "province", "device", "a", "zz", "time",
                          "", "status"])


@settings(max_examples=1000, deadline=None)
@given(device=st.sampled_from(["gw1", "x y", "", "ap,1"]),
       metric=st.sampled_from(["pubnet_ap_clients", "m e", ""]),
       labels=st.lists(st.tuples(_NAMES, _TEXT), max_size=5),
       value=st.floats(allow_nan=True, allow_infinity=True),
       ts=st.floats(min_value=0, max_value=4e9))
def test_the_shared_templates_encode_as_the_per_series_prefix(
        device: str, metric: str, labels: list[tuple[str, str]], value: float,
        ts: float) -> None:
    """The per-(metric, labels) templates and per-device tags give the same line as
    building each series' prefix from its tags (sorted keys, escapes, empty values left
    out, a label overriding an inventory tag, the device overriding a label)."""
    encoder = LineEncoder(device_tags(small_inventory()))
    obs = Observation(device, metric, value, ts, Source.SNMP, tuple(labels))
    reference = encoder._build_prefix(obs)
    got = encoder.encode(obs)
    if not math.isfinite(value):
        assert got == RejectedPoint(Rejected.NON_FINITE, device, metric)
    elif isinstance(reference, Rejected):
        assert got == RejectedPoint(reference, device, metric)
    else:
        assert got == f"{reference} value={value!r} {round(ts * 1e6) * 1000}"
    # and again from the caches
    assert encoder.encode(obs) == got


def test_labels_naming_a_device_tag_share_one_template_across_devices() -> None:
    """``pubnet_device_up``'s labels name ``site`` and ``province``: the devices of a site
    share one template, as other label sets do, instead of a prefix per series (which
    thrashed its bounded cache beyond ~50,000 devices and rebuilt every prefix per poll)."""
    encoder = LineEncoder({f"ap{n}": (("site", "S1"), ("province", "40")) for n in range(500)})
    labels = (("site", "S1"), ("role", "access_point"), ("province", "40"))
    lines = [encoder.encode(Observation(f"ap{n}", "pubnet_device_up", 1.0, 1.0, Source.SNMP,
                                        labels)) for n in range(500)]
    assert lines[7] == ("pubnet_device_up,device=ap7,province=40,role=access_point,site=S1 "
                        "value=1.0 1000000000")
    per_label_set = {name: cache for name, cache in vars(encoder).items()
                     if isinstance(cache, dict) and name not in ("_devices", "_inventory_tags")}
    assert sum(len(cache) for cache in per_label_set.values()) <= 2, per_label_set.keys()


class _Counting(LineEncoder):
    """An encoder with a small cache that notes every label set it builds a template for."""

    CACHE_MAX = 50
    ROTATE_AFTER = 1_000

    def __init__(self) -> None:
        super().__init__({})
        self.built: list[tuple[str, tuple[tuple[str, str], ...]]] = []

    def _template(self, metric: str, labels: tuple[tuple[str, str], ...]) -> object:
        self.built.append((metric, labels))
        return super()._template(metric, labels)


def _poll(device: str) -> list[Observation]:
    """A label set every device shares and one of the device's own (as ``ifalias``)."""
    return [Observation(device, "pubnet_interface_oper_up", 1.0, 1.0, Source.SNMP,
                        (("ifname", "eth0"),)),
            Observation(device, "pubnet_interface_info", 1.0, 1.0, Source.SNMP,
                        (("ifname", "eth0"), ("ifalias", f"{device} uplink")))]


def test_a_full_cache_keeps_the_shared_label_sets_and_those_it_holds() -> None:
    """Past ``CACHE_MAX`` label sets (~15,000 devices' own at the real bound) the cache is
    not cleared: the label set all devices share is built once, and the device label sets
    it holds are hit every round (clearing when full rebuilt every one, every round, and
    the shared ones after each clear); the lines are the same either way."""
    encoder = _Counting()
    roomy = LineEncoder({})
    for round_ in range(3):
        encoder.built.clear()
        for n in range(200):
            out: list[str] = []
            encoder.encode_into(_poll(f"ap{n}"), out)
            expected: list[str] = []
            roomy.encode_into(_poll(f"ap{n}"), expected)
            assert out == expected
        shared = [labels for _, labels in encoder.built if len(labels) == 1]
        own = [labels for _, labels in encoder.built if len(labels) == 2]
        assert len(shared) == (1 if round_ == 0 else 0), "the shared label set: built once"
        if round_:
            assert len(own) == 200 - (encoder.CACHE_MAX - 1), "the cached own ones are hit"


def test_a_cache_filled_by_an_old_fleet_makes_room_for_the_new_one() -> None:
    """After ``ROTATE_AFTER`` label sets refused, the devices' own label sets go (the
    shared stay), so a changed fleet's are cached again."""
    encoder = _Counting()
    for n in range(100):  # fills the cache with ap0..ap48's own label sets
        encoder.encode_into(_poll(f"ap{n}"), [])
    rounds = []
    for _ in range(12):  # a new fleet, 100 devices: 100 refusals a round at first
        encoder.built.clear()
        for n in range(100):
            encoder.encode_into(_poll(f"new{n}"), [])
        rounds.append(len(encoder.built))
    assert rounds[0] == 100
    assert rounds[-1] <= 100 - (encoder.CACHE_MAX - 1), rounds
    assert not [labels for _, labels in encoder.built if len(labels) == 1]


def test_a_full_cache_in_use_is_kept_however_many_label_sets_it_refuses() -> None:
    """A fleet larger than the cache refuses ``ROTATE_AFTER`` label sets every few rounds
    (at 100,000 devices every other round); the device label sets it holds are hit every
    round, so they stay: throwing them away for as many others rebuilt ~90,000 entries
    for the garbage collector to walk, and made no more of them useful."""
    encoder = _Counting()
    cached: set[object] = set()
    for round_ in range(15):  # 151 refusals a round: past ROTATE_AFTER twice
        for n in range(200):
            encoder.encode_into(_poll(f"ap{n}"), [])
        if round_ == 0:
            cached = set(encoder._templates)
    assert 15 * (200 - (encoder.CACHE_MAX - 1)) > 2 * encoder.ROTATE_AFTER
    assert len(cached) == encoder.CACHE_MAX
    assert set(encoder._templates) == cached, "the same label sets cached all along"


def _reference_escape(text: str, measurement: bool = False) -> str:
    """Line-protocol escaping written out character by character, apart from the
    encoder's regular expressions: a measurement escapes backslashes, commas, spaces and
    newlines; a tag key or value commas, equals signs and spaces, a newline or carriage
    return as ``\\n``/``\\r``, and a backslash doubled when what follows it (or the end of
    the text) would otherwise be read as escaped."""
    if measurement:
        return (text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")
                .replace("\n", "\\n"))
    out = []
    for at, char in enumerate(text):
        if char in ",= ":
            out.append("\\" + char)
        elif char in "\n\r":
            out.append("\\n" if char == "\n" else "\\r")
        elif char == "\\":
            following = text[at + 1:at + 2]
            out.append("\\\\" if following in ("", ",", "=", " ", "\\", "\n", "\r") else "\\")
        else:
            out.append(char)
    return "".join(out)


def _reference_line(inventory: dict[str, tuple[tuple[str, str], ...]],
                    obs: Observation) -> str | RejectedPoint:
    """One observation's line (or why not) built from scratch, tag by tag."""
    if not math.isfinite(obs.value):
        return RejectedPoint(Rejected.NON_FINITE, obs.device, obs.metric)
    if not obs.metric or not obs.device:
        return RejectedPoint(Rejected.EMPTY_NAME, obs.device, obs.metric)
    tags = dict(inventory.get(obs.device, ()))
    for name, value in obs.labels:
        if name in ("_measurement", "_field", "_value", "_start", "_stop", "time"):
            return RejectedPoint(Rejected.RESERVED_TAG, obs.device, obs.metric)
        if not name:
            return RejectedPoint(Rejected.EMPTY_NAME, obs.device, obs.metric)
        tags[name] = value
    tags["device"] = obs.device
    parts = [_reference_escape(obs.metric, measurement=True)]
    parts += [f"{_reference_escape(name)}={_reference_escape(tags[name])}"
              for name in sorted(tags) if tags[name]]
    return f"{','.join(parts)} value={float(obs.value)!r} {round(obs.ts * 1e6) * 1000}"


class _Tiny(LineEncoder):
    """Caches small enough for a short example to fill them, refuse and make room."""

    CACHE_MAX = 6
    ROTATE_AFTER = 4
    DEVICES_MAX = 3
    SHAPES_MAX = 4


_INVENTORY = {"gw1": (("site", "S1"), ("province", "40")),
              "ap 1": (("site", "บ้าน หนองบัว"), ("province", "")),
              "ap,2": (("site", "a=b\\"),),
              "r\n3": (("site", ""), ("province", "10"))}
_LABEL_SET = st.lists(st.tuples(_NAMES | st.sampled_from(["role", "sys_descr", "_field"]),
                                _TEXT | st.sampled_from(["eth0", "บ้าน หนองบัว", "a\\"])),
                      max_size=5).map(tuple)


@settings(max_examples=400, deadline=None)
@given(label_sets=st.lists(_LABEL_SET, min_size=1, max_size=6),
       points=st.lists(st.tuples(st.sampled_from([*_INVENTORY, "other", ""]),
                                 st.sampled_from(["pubnet_device_up", "m e,x\\", "", "m"]),
                                 st.integers(0, 5), st.booleans(),
                                 st.floats(allow_nan=True, allow_infinity=True)
                                 | st.integers(-10**6, 10**6),
                                 st.sampled_from([1.0, 1700000000.123456, 2.5e9])),
                       min_size=1, max_size=40),
       tiny=st.booleans(), rounds=st.integers(1, 3))
def test_batches_encode_as_a_reference_encoder_writes_each_point(
        label_sets: list[tuple[tuple[str, str], ...]],
        points: list[tuple[str, str, int, bool, float, float]], tiny: bool,
        rounds: int) -> None:
    """Whatever the encoder's fast paths (runs of one device, templates of each kind,
    caches hit, refused, rotated; label tuples that are the same object poll after poll
    or equal new ones), every line is the one a from-scratch reference writes: Thai text,
    escapes, labels overriding ``site``/``province``, rejected and non-finite points."""
    encoder = (_Tiny if tiny else LineEncoder)(_INVENTORY)
    batch = []
    for device, metric, which, copy, value, ts in points:
        labels = label_sets[which % len(label_sets)]
        if copy:  # equal, but not the same tuples
            labels = tuple((str(name), str(value_)) for name, value_ in labels)
        batch.append(Observation(device, metric, value, ts, Source.SNMP, labels))
    expected = [_reference_line(_INVENTORY, obs) for obs in batch]
    for _ in range(rounds):
        out: list[str] = []
        rejected = encoder.encode_into(batch, out)
        assert out == [line for line in expected if isinstance(line, str)]
        assert rejected == [line for line in expected if not isinstance(line, str)]
