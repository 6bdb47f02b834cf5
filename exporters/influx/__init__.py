"""The InfluxDB writer: every observation as line protocol, nothing lost while it is down.

Modules: :mod:`.lineproto` (encoding, escaping, rejecting bad points), :mod:`.buffer`
(bounded on-disk backlog of batches), :mod:`.writer` (batching, sending, replay; the
``influxdb`` component).
"""
