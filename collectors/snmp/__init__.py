"""The SNMP poller: profiles as data, resolved once at load (:mod:`.profiles`); one client
interface (:mod:`.client`) with gufo-snmp on the hot path (:mod:`.gufo_client`, each answer
screened first by :mod:`.ber_check`; :mod:`.v3probe` tells an unknown v3 user from a wrong
key) and pysnmp beside it to cross-check (:mod:`.pysnmp_client`); scheduling and the
``snmp-poller`` component (:mod:`.schedule`, :mod:`.poller`); one poll of one device
(:mod:`.collect`, :mod:`.layout`); counter semantics (:mod:`.counters`); ``pubnet poll``'s
single round (:mod:`.once`).

Within :mod:`collectors`, the trap receiver and the ICMP prober publish the poller's device
metrics under the same names and the MQTT collector reuses its counter arithmetic; outside,
only the app (pubnet/app, pubnet/cli.py) imports it, to build the poller and run ``pubnet
poll``. The fleet simulator is not a collector and lives in :mod:`simulator`.

The metric and label names it writes come from the metric catalog (:mod:`pubnet.catalog`),
which the other collectors share.
"""
