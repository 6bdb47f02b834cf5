"""The address column: host, host:port, IPv4, [IPv6]:port, hostnames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.address import parse_address


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("10.0.0.1", "10.0.0.1", None),
        ("10.0.0.1:161", "10.0.0.1", 161),
        ("255.255.255.255:65535", "255.255.255.255", 65535),
        ("[2001:db8::1]", "2001:db8::1", None),
        ("[2001:db8::1]:1161", "2001:db8::1", 1161),
        ("[::1]:1", "::1", 1),
        ("gw.s-1.example.net", "gw.s-1.example.net", None),
        ("router1:1161", "router1", 1161),
        ("localhost", "localhost", None),
        ("example.net.", "example.net.", None),
    ],
    ids=lambda v: str(v),
)
def test_good_addresses(text: str, host: str, port: int | None) -> None:
    assert parse_address(text) == (host, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "address is required"),
        ("10.0.0.256", "not a valid IPv4 address"),
        ("10.0.0", "not a valid IPv4 address"),
        ("010.0.0.1", "not a valid IPv4 address"),
        ("10.0.0.1:0", "port 0 is outside 1-65535"),
        ("10.0.0.1:65536", "port 65536 is outside 1-65535"),
        ("10.0.0.1:", "port is empty"),
        ("10.0.0.1:๑๖๑", "is not a number"),
        ("2001:db8::1", "write IPv6 addresses in brackets"),
        ("[2001:db8::1", "missing ']'"),
        ("[2001:db8::zz]:161", "not a valid IPv6 address"),
        ("[::1]161", "expected ':port' after ']'"),
        ("under_score.example", "not an IPv4 address or a valid hostname"),
        ("-bad.example", "not an IPv4 address or a valid hostname"),
        ("host name", "not an IPv4 address or a valid hostname"),
        ("example.123", "not a valid IPv4 address"),
        ("บ้าน.example", "not an IPv4 address or a valid hostname"),
    ],
    ids=lambda v: str(v) or "empty",
)
def test_bad_addresses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_address(text)


@given(
    st.ip_addresses(),
    st.one_of(st.none(), st.integers(min_value=1, max_value=65535)),
)
def test_formatted_addresses_parse_back(address: object, port: int | None) -> None:
    host = str(address)
    text = f"[{host}]" if ":" in host else host
    if port is not None:
        text += f":{port}"
    assert parse_address(text) == (host, port)
