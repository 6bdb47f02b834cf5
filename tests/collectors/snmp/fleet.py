"""Small inventories and configs pointing at the test snmpd."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inventory.model import Device, Inventory, Role, Site, SiteKind
from pubnet.config import Config, parse_config
from testbed.snmpd import (
    AUTH_PASS,
    AUTH_PROTOCOLS,
    COMMUNITY,
    LIMITED_COMMUNITY,
    NOAUTH_USER,
    PRIV_PASS,
    PRIV_PROTOCOLS,
    user_name,
)

SITE = Site("S-2204-0001", "เน็ตประชารัฐ บ้านไร่แก", SiteKind.VILLAGE_WIFI, "22", "2204",
            "220409", "บ้านไร่แก หมู่ 13", 12.47, 102.14, "จันทบุรี", "Chanthaburi",
            "โป่งน้ำร้อน", "Pong Nam Ron")


def v3_credentials() -> dict[str, dict[str, Any]]:
    creds: dict[str, dict[str, Any]] = {
        "v3-noauth": {"version": 3, "user": NOAUTH_USER},
    }
    for auth in AUTH_PROTOCOLS:
        for priv in PRIV_PROTOCOLS:
            cred: dict[str, Any] = {"version": 3, "user": user_name(auth, priv),
                                    "auth_protocol": auth, "auth_key": AUTH_PASS,
                                    "priv_protocol": priv}
            if priv != "none":
                cred["priv_key"] = PRIV_PASS
            creds[f"v3-{auth}-{priv}"] = cred
    return creds


def credentials() -> dict[str, dict[str, Any]]:
    return {
        "v2": {"version": "2c", "community": COMMUNITY},
        "v1": {"version": 1, "community": COMMUNITY},
        "limited": {"version": "2c", "community": LIMITED_COMMUNITY},
        "bad-community": {"version": "2c", "community": "not-the-community"},
        "wrong-auth-key": {"version": 3, "user": user_name("sha256", "aes128"),
                           "auth_protocol": "sha256", "auth_key": "not-the-auth-key",
                           "priv_protocol": "aes128", "priv_key": PRIV_PASS},
        "wrong-priv-key": {"version": 3, "user": user_name("sha256", "aes128"),
                           "auth_protocol": "sha256", "auth_key": AUTH_PASS,
                           "priv_protocol": "aes128", "priv_key": "not-the-priv-key"},
        "unknown-user": {"version": 3, "user": "nobody-here", "auth_protocol": "sha",
                         "auth_key": AUTH_PASS},
        **v3_credentials(),
    }


def make_config(snmp: Mapping[str, Any] | None = None) -> Config:
    return parse_config({"credentials": credentials(),
                         "snmp": {"timeout": "1s", "retries": 0, **(snmp or {})}})


def make_inventory(devices: Sequence[tuple[str, str, int, str, str]]) -> Inventory:
    """``devices``: (device_id, host, port, credential, profile)."""
    inv = Inventory(sites={SITE.site_id: SITE})
    for device_id, host, port, credential, profile in devices:
        inv.devices[device_id] = Device(device_id, SITE.site_id, Role.SITE_GATEWAY, host, port,
                                        profile, credential, "")
    return inv
