"""The alerting instance's view of the shards: device status from the broker (issue 15).

:mod:`.feed` is the ``state-feed`` component of an alerting-only pubnet: it subscribes to
``pubnet/v1/state/#`` and ``pubnet/v1/shards/+`` (:mod:`pubnet.statewire`) with a persistent
session and turns each state message back into one attempt in its own store;
:mod:`.shards` decides, from births, heartbeats and last wills, which shards are online.
"""
