"""A shard's device status on the broker, for the alerting instance (issue 15).

:mod:`.publisher` is the ``state-publisher`` component of a shard (role ``poll`` without
``alerting``): it follows the state store's attempts and publishes those alerting needs on
``pubnet/v1/state/{site}/{device}``, and the shard's liveness on ``pubnet/v1/shards/{I}``
(topics and payloads: :mod:`pubnet.statewire`).
"""
