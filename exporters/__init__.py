"""Exporters: hand what the state store knows to the outside world.

Prometheus ``/metrics`` (prometheus-client custom collector) and InfluxDB line-protocol
writes live here. An exporter reads the state store (:mod:`pubnet.state`) and never polls a
device or imports a collector.
"""
