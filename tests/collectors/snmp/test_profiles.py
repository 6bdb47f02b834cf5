"""Profiles: the shipped ones compile; a broken file is rejected naming file, key, reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.snmp.profiles import (
    CORE_SCALARS,
    INDEX,
    MetricKind,
    ProfileError,
    load_profiles,
)


def test_shipped_profiles_compile_into_numeric_oids() -> None:
    profiles = load_profiles()
    assert {"if-mib", "host", "access-point", "router"} <= set(profiles.profiles)
    assert profiles.is_auto("auto")
    ifmib = profiles.profiles["if-mib"]
    assert ifmib.get_oids[:4] == CORE_SCALARS
    (table,) = ifmib.tables
    rx = next(m for m in table.metrics if m.name == "pubnet_interface_receive_bytes_total")
    assert rx.kind is MetricKind.COUNTER
    assert [(s.oid, s.width) for s in rx.sources] == [
        ("1.3.6.1.2.1.31.1.1.1.6", 64), ("1.3.6.1.2.1.2.2.1.10", 32)]
    speed = next(m for m in table.metrics if m.name == "pubnet_interface_speed_bps")
    assert speed.sources[0].scale == 1_000_000
    oper = next(m for m in table.metrics if m.name == "pubnet_interface_oper_up")
    assert oper.enum is not None and oper.enum[1] == 1 and oper.enum[2] == 0
    assert table.labels == (("ifname", ("1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.2", INDEX)),)
    # fallbacks are not walked unless a row lacks the first choice
    assert "1.3.6.1.2.1.2.2.1.10" not in table.first_walks
    assert "1.3.6.1.2.1.2.2.1.2" not in table.first_walks
    router = profiles.profiles["router"]
    assert [t.name for t in router.tables] == ["interfaces", "processors", "memory"]


@pytest.mark.parametrize(
    ("oid", "expected"),
    [
        ("1.3.6.1.4.1.41112.1.6", "access-point"),
        (".1.3.6.1.4.1.8072.3.2.10", "router"),
        ("1.3.6.1.4.1.14988.1", "router"),
        ("1.3.6.1.4.1.411120", "if-mib"),  # a prefix must end at an arc boundary
        ("", "if-mib"),
    ],
    ids=["ubiquiti", "net-snmp", "mikrotik", "not-a-prefix", "unknown"],
)
def test_auto_selects_by_sys_object_id(oid: str, expected: str) -> None:
    assert load_profiles().select("auto", oid).name == expected


BROKEN = [
    ("typo-key", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: m, type: gauge, column: a, colour: red}\n",
     "tables.t.metrics[0].colour", "unknown key"),
    ("bad-oid", "tables:\n  t:\n    columns: {a: 1.3.x.1}\n    metrics:\n"
     "      - {name: m, type: gauge, column: a}\n", "tables.t.columns.a", "not a numeric OID"),
    ("unknown-column", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: m, type: gauge, column: b}\n", "tables.t.metrics[0].column",
     "unknown column 'b'"),
    ("counter-no-width", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: m, type: counter, column: a}\n", "tables.t.metrics[0].width",
     "a counter needs width"),
    ("bad-type", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: m, type: histogram, column: a}\n", "tables.t.metrics[0].type",
     "'gauge' or 'counter'"),
    ("unknown-include", "include: [nope]\n", "include[0]", "unknown profile 'nope'"),
    ("bad-metric-name", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: 'bad name', type: gauge, column: a}\n", "tables.t.metrics[0].name",
     "invalid metric name"),
    ("reserved-label", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    labels: {device: [a]}\n"
     "    metrics:\n      - {name: m, type: gauge, column: a}\n", "tables.t.labels.device",
     "reserved"),
    ("float-oid", "tables:\n  t:\n    columns: {a: 1.3}\n    metrics:\n"
     "      - {name: m, type: gauge, column: a}\n", "tables.t.columns.a", "write OIDs as text"),
    ("bad-yaml", "tables: [\n", "line", "expected"),
    ("not-in-catalog", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: pubnet_pon_rx_power_dbm, type: gauge, column: a}\n",
     "tables.t.metrics[0].name", "pubnet_pon_rx_power_dbm is not in pubnet's metric catalog"),
    ("scalar-not-in-catalog", "scalars: {a: 1.3.6.1.2.1.1.4.0}\n"
     "metrics:\n  - {name: pubnet_test_contact, type: gauge, scalar: a}\n",
     "metrics[0].name", "pubnet_test_contact is not in pubnet's metric catalog"),
    ("counter-as-gauge", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: pubnet_interface_receive_bytes_total, type: gauge, column: a}\n",
     "tables.t.metrics[0].type", "is a counter in the metric catalog, so its type is "
     "counter, not gauge"),
    ("gauge-as-counter", "scalars: {a: 1.3.6.1.2.1.1.4.0}\n"
     "metrics:\n  - {name: pubnet_host_memory_bytes, type: counter, width: 64, scalar: a}\n",
     "metrics[0].type", "is a gauge in the metric catalog, so its type is gauge, not counter"),
    ("info-as-counter", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: pubnet_interface_info, type: counter, width: 64, column: a}\n",
     "tables.t.metrics[0].type", "is an info in the metric catalog, so its type is gauge"),
    ("not-an-snmp-metric", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n    metrics:\n"
     "      - {name: pubnet_site_up, type: gauge, column: a}\n",
     "tables.t.metrics[0].name", "pubnet_site_up is not an SNMP metric"),
    ("label-not-in-catalog", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n"
     "    labels: {port: [index]}\n    metrics:\n"
     "      - {name: pubnet_interface_oper_up, type: gauge, column: a}\n",
     "tables.t.labels.port", "pubnet_interface_oper_up has no label 'port'"),
    ("metric-label-not-in-catalog", "tables:\n  t:\n    columns: {a: 1.3.6.1.2}\n"
     "    labels: {ifname: [index]}\n    metrics:\n"
     "      - {name: pubnet_interface_oper_up, type: gauge, column: a, labels: {ifalias: [a]}}\n",
     "tables.t.metrics[0].labels.ifalias", "pubnet_interface_oper_up has no label 'ifalias'"),
]


@pytest.mark.parametrize(("text", "key", "reason"), [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_broken_profile_is_rejected_with_file_key_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profiles(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert reason in message


def test_include_cycle_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("include: [b]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("include: [a]\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="include cycle"):
        load_profiles(tmp_path)


def test_extra_folder_overrides_a_shipped_profile(tmp_path: Path) -> None:
    from collectors.snmp.profiles import PROFILES_DIR

    (tmp_path / "host.yaml").write_text(
        "scalars: {sysContact: 1.3.6.1.2.1.1.4.0}\n"
        "metrics:\n  - {name: pubnet_host_memory_bytes, type: gauge, scalar: sysContact}\n",
        encoding="utf-8")
    profiles = load_profiles(PROFILES_DIR, tmp_path)
    assert profiles.profiles["host"].get_oids[-1] == "1.3.6.1.2.1.1.4.0"
    assert profiles.profiles["host"].tables == ()
