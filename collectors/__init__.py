"""Collectors: everything that talks to devices and turns what they say into observations.

SNMP polling (gufo-snmp) and traps (pysnmp), MQTT telemetry (aiomqtt), ICMP probes and the
fleet simulator live here. A collector only writes observations and device status into the
state store (:mod:`pubnet.state`); it never imports an exporter or the alerting package.
"""
