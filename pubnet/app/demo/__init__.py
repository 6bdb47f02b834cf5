"""``pubnet demo``: the whole pipeline on a simulated fleet, as a NOC operator would watch it.

One idea: a scripted outage. A generated inventory is re-addressed onto loopback, the
simulator answers SNMP for every device, and the real components (SNMP poller, trap
receiver, state store, ``/metrics``, alerting) run in the same event loop. The scenario then
waits for the first polls, cuts the fibre to a district router, waits for exactly one
incident, repairs it, sends a linkDown trap and prints a summary.

Every step has a deadline; a missed expectation makes the command exit 1, so the demo
doubles as an end-to-end smoke test. Site gateways the generator gives an MQTT or ICMP
profile are polled over SNMP here (``router`` profile): every device of the demo fleet is
then one the simulator can silence, and the demo needs no broker publisher or ping rights.

One module per part: ``fleet`` (the inventory the simulator serves), ``config`` (the config
and its literal secrets), ``timing`` (every clock from one interval), ``workdir`` (the files
left behind), ``logs`` (redaction, first-contact noise), ``inbox`` (the webhook receiver that
checks the HMAC), ``deadlines`` (waiting for an expectation), ``scenario`` (the steps),
``run`` (wiring, running side by side, exit codes) and ``cli`` (the flags).
"""

from pubnet.app.demo.cli import register
from pubnet.app.demo.config import (
    DATABASE_NAME,
    NOC_AUTH_KEY,
    NOC_PRIV_KEY,
    VILLAGE_COMMUNITY,
    WEBHOOK_SECRET,
    demo_config,
    demo_credentials,
    demo_delivery,
)
from pubnet.app.demo.deadlines import ExpectationFailed
from pubnet.app.demo.fleet import DEMO_NETWORK, demo_inventory
from pubnet.app.demo.inbox import Inbox, Received
from pubnet.app.demo.run import DemoOptions, run_demo
from pubnet.app.demo.scenario import Scenario
from pubnet.app.demo.timing import Timing

__all__ = [
    "DATABASE_NAME",
    "DEMO_NETWORK",
    "NOC_AUTH_KEY",
    "NOC_PRIV_KEY",
    "VILLAGE_COMMUNITY",
    "WEBHOOK_SECRET",
    "DemoOptions",
    "ExpectationFailed",
    "Inbox",
    "Received",
    "Scenario",
    "Timing",
    "demo_config",
    "demo_credentials",
    "demo_delivery",
    "demo_inventory",
    "register",
    "run_demo",
]
