"""``pubnet.mqttclient.stay_connected`` tells its caller each change of the connection and
nothing else: a broker that stays away says nothing, a drop says False once, a stop while
connected says False; the state feed and the state publisher rely on it for their
``pubnet_state_connected`` gauge."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from pubnet.config import MqttConfig
from pubnet.mqttclient import Session, client_options, refused, stay_connected
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


async def test_a_refused_on_connect_step_is_a_failed_attempt_not_a_connection(
        mosquitto: Mosquitto) -> None:
    """The subscriber's "connected" means "subscribed": ``on_connect`` runs after the CONNACK
    and before the connection counts; raising there is a failed attempt, never told as up.
    ``prepare`` sees every client before it connects."""
    config = MqttConfig.model_validate({"url": f"mqtt://127.0.0.1:{mosquitto.port}",
                                        "client_id": "stay-connected-hooks",
                                        "reconnect_min": "10ms", "reconnect_max": "20ms"})
    told: list[bool] = []
    prepared: list[aiomqtt.Client] = []
    failed = 0

    async def refuse(_client: aiomqtt.Client) -> None:
        raise aiomqtt.MqttError("subscription refused")

    async def session(_client: aiomqtt.Client) -> None:
        raise AssertionError("a session ran although on_connect refused")

    def count() -> None:
        nonlocal failed
        failed += 1

    task = asyncio.create_task(stay_connected(
        config, lambda context: client_options(config, lambda _m: None, context), session,
        log=log, what="test", on_connected=told.append, prepare=prepared.append,
        on_connect=refuse, on_failed_attempt=count))
    try:
        await eventually(lambda: failed >= 3, 20, "three refused attempts")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert told == []
    assert len(prepared) >= failed and len({id(c) for c in prepared}) == len(prepared)
    # The clients go while this test's event loop still runs: a paho client collected
    # later calls into a closed loop from its __del__ (an unraisable error in a later test).
    prepared.clear()
    del task
    gc.collect()


@pytest.mark.parametrize(("granted", "expected"), [
    ((1, 0), []),
    ((1, 0x80), ["b"]),
    ([ReasonCode(PacketTypes.SUBACK, identifier=1),
      ReasonCode(PacketTypes.SUBACK, identifier=0x87)], ["b"]),
], ids=["v311-granted", "v311-refused", "v5-not-authorized"])
def test_refused_reads_both_mqtt_versions_suback(granted: Sequence[object],
                                                 expected: list[str]) -> None:
    assert refused(["a", "b"], granted) == expected
