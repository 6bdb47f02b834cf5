"""Real servers on loopback, for the tests and the benchmarks alike.

net-snmp's ``snmpd`` (:mod:`.snmpd`), Mosquitto (:mod:`.mosquitto`), a raw MQTT publisher
(:mod:`.rawmqtt`), a small aiohttp app on a loopback port (:mod:`.http`), how to find and
stop server binaries (:mod:`.process`), the throw-away TLS certificates they use
(:mod:`.tls`), and a saturated event loop to measure against (:mod:`.busyloop`). Both
``tests/`` and ``bench/`` start them; the benchmarks import them from here, not from the test
suite, so a test can change without breaking a measurement. Not shipped with pubnet and
not a layer of it: it imports pubnet's ground (the BER codec, free ports) and nothing else.
"""
