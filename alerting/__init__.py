"""Alerting: turn device and link state into incidents, one per root cause.

Outage detection, topology-aware grouping (:mod:`inventory.topology`), incident storage,
maintenance windows and delivery to technicians (MQTT, webhook, e-mail, LINE, Telegram)
live here. It subscribes to the state store and never talks to devices itself.
"""
