"""The config ``pubnet run`` would read, built in code: the demo has no YAML to ship and its
secrets are literals that the simulator, the poller and the webhook receiver share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pubnet.app.demo.timing import Timing
    from pubnet.config import Config

VILLAGE_COMMUNITY = "pubnet-demo-village"
NOC_AUTH_KEY = "pubnet-demo-auth-key"
NOC_PRIV_KEY = "pubnet-demo-priv-key"
WEBHOOK_SECRET = "pubnet-demo-webhook-secret"
"""Literal demo secrets: the simulator and the poller share them; they are never printed."""

DATABASE_NAME = "alerts.db"


def demo_credentials() -> dict[str, Any]:
    """The ``credentials:`` section the simulator answers to: the village community and the
    NOC's SNMPv3 user, with the demo's literal secrets."""
    from inventory.generate import NOC_CREDENTIAL, VILLAGE_CREDENTIAL

    return {
        VILLAGE_CREDENTIAL: {"version": "2c", "community": VILLAGE_COMMUNITY},
        NOC_CREDENTIAL: {"version": "3", "user": "noc", "auth_protocol": "sha256",
                         "auth_key": NOC_AUTH_KEY, "priv_protocol": "aes128",
                         "priv_key": NOC_PRIV_KEY},
    }


DEMO_CHANNELS = ("technician", "noc")
"""The demo's alert channels (:func:`demo_delivery`): the Thai route's, the English one's."""


def demo_delivery(webhook_url: str) -> dict[str, Any]:
    """``alerting.routes`` and ``alerting.channels``: every alert in Thai to the technician
    inbox and in English to the NOC inbox, webhooks of the demo's inbox at ``webhook_url``
    signed with :data:`WEBHOOK_SECRET`."""
    return {
        "routes": [{"channels": [DEMO_CHANNELS[0]], "language": "th"},
                   {"channels": [DEMO_CHANNELS[1]], "language": "en"}],
        "channels": {
            "technician": {"type": "webhook", "url": f"{webhook_url}/technician",
                           "secret": WEBHOOK_SECRET},
            "noc": {"type": "webhook", "url": f"{webhook_url}/noc", "secret": WEBHOOK_SECRET},
        },
    }


def demo_config(workdir: Path, listen: str, trap_port: int, webhook_url: str,
                timing: Timing, mqtt_port: int = 1883) -> Config:
    """The config ``pubnet run`` would read, built in code with the demo's literal secrets."""
    from pubnet.config import parse_config

    data: dict[str, Any] = {
        "credentials": demo_credentials(),
        "snmp": {"interval": timing.interval, "timeout": 1.0, "retries": 1,
                 "max_backoff": timing.interval,
                 "interval_by_role": {"district_aggregation": timing.router_interval}},
        "prometheus": {"listen": listen},
        "traps": {"listen": f"127.0.0.1:{trap_port}"},
        # the embedded broker: the simulated MQTT gateways publish through it
        "mqtt": {"embedded_port": mqtt_port, "heartbeat_interval": timing.interval,
                 "down_after_missed": 3},
        "alerting": {
            "database": str(workdir / DATABASE_NAME),
            "down_after": 2,
            "tick": 0.5,
            "group_wait": timing.group_wait,
            **demo_delivery(webhook_url),
        },
    }
    return parse_config(data, source="pubnet demo", base_dir=workdir)
