"""The MQTT collector: telemetry, heartbeats and last wills from site gateways.

Gateways publish JSON telemetry on ``pubnet/v1/telemetry/{site}/{device}`` and a retained
``online``/``offline`` on ``pubnet/v1/status/{site}/{device}`` (``offline`` is their last
will). :class:`collectors.mqtt.component.MqttCollector` subscribes with QoS 1 on a
persistent session and turns what arrives into observations and device status in the state
store; see ``docs/mqtt.md``.
"""
