"""ICMP echo probes for devices without SNMP (profile ``icmp``): RTT, loss and up/down
through the same status path as SNMP polls. See :class:`collectors.icmp.prober.IcmpProber`.
"""

from collectors.icmp.ping import FakePinger, ProbeResult, SocketPinger
from collectors.icmp.prober import IcmpProber

__all__ = ["FakePinger", "IcmpProber", "ProbeResult", "SocketPinger"]
