"""``pubnet.mqttclient.stay_connected`` tells its caller each change of the connection and
nothing else: a broker that stays away says nothing, a drop says False once, a stop while
connected says False; the state feed and the state publisher rely on it for their
``pubnet_state_connected`` gauge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

import aiomqtt

from pubnet.config import MqttConfig
from pubnet.mqttclient import Session, client_options, stay_connected
from testbed.mosquitto import Mosquitto
from tests.support import eventually, free_port

log = logging.getLogger("test.stay_connected")


async def _told(config: MqttConfig, session: Session, until: Callable[[], bool],
                options: Callable[[ssl.SSLContext | None], dict[str, Any]] | None = None,
                ) -> list[bool]:
    """What ``stay_connected`` told until ``until()`` held and it was cancelled."""
    told: list[bool] = []
    task = asyncio.create_task(stay_connected(
        config, options or (lambda context: client_options(config, lambda _m: None, context)),
        session, log=log, what="test", on_connected=told.append))
    try:
        await eventually(until, 20, "the connection to change as expected")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return told


async def test_an_absent_broker_is_no_change() -> None:
    config = MqttConfig.model_validate({"url": f"mqtt://127.0.0.1:{free_port()}",
                                        "reconnect_min": "10ms", "reconnect_max": "20ms"})
    tries = 0

    def options(context: Any) -> dict[str, Any]:
        nonlocal tries
        tries += 1
        return client_options(config, lambda _message: None, context)

    async def session(_client: aiomqtt.Client) -> None:
        raise AssertionError("connected to a broker that is not there")

    assert await _told(config, session, lambda: tries >= 3, options) == []


async def test_a_drop_and_a_stop_are_told_once_each(mosquitto: Mosquitto) -> None:
    config = MqttConfig.model_validate({"url": f"mqtt://127.0.0.1:{mosquitto.port}",
                                        "client_id": "stay-connected-test",
                                        "reconnect_min": "10ms", "reconnect_max": "20ms"})
    sessions = 0

    async def session(_client: aiomqtt.Client) -> None:
        nonlocal sessions
        sessions += 1
        if sessions == 1:
            raise aiomqtt.MqttError("dropped")
        await asyncio.Event().wait()

    assert await _told(config, session, lambda: sessions == 2) == [True, False, True, False]
