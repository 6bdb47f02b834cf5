"""The SNMP poller: profiles as data, a gufo-snmp client behind our own interface, scheduling,
device status and counter semantics.

Other collectors (traps, ICMP, the simulator) import only :mod:`collectors.snmp.client`,
:mod:`collectors.snmp.errors` and :mod:`collectors.snmp.names`; those are the stable surface.
"""
