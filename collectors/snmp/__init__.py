"""The SNMP poller: profiles as data, a gufo-snmp client behind our own interface, scheduling,
device status and counter semantics.

The metric and label names it writes come from the metric catalog (:mod:`pubnet.catalog`),
which the other collectors share.
"""
