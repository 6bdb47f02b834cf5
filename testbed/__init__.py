"""Real servers on loopback, for the tests and the benchmarks alike.

net-snmp's ``snmpd`` (:mod:`.snmpd`), Mosquitto (:mod:`.mosquitto`), a raw MQTT publisher
(:mod:`.rawmqtt`), a small aiohttp app on a loopback port (:mod:`.http`), how to find and
stop server binaries (:mod:`.process`), the throw-away TLS certificates they use
(:mod:`.tls`), a saturated event loop to measure against (:mod:`.busyloop`), and waiting for
a condition with a deadline (:mod:`.waiting`). Both
``tests/`` and ``bench/`` start them; the benchmarks import them from here, not from the test
suite, so a test can change without breaking a measurement. Beside the servers, what both
build alike: a small inventory (:mod:`.inventories`) and an SNMP client answering from a
dict in the process (:mod:`.scripted`). Not shipped with pubnet and not a layer of it: the
servers import pubnet's ground (the BER codec, free ports); the inventories import the
inventory, the scripted client the SNMP collector's client base class.
"""
