"""The SNMP trap and inform receiver (pysnmp): linkDown/linkUp/coldStart/warmStart reach the
state store at once, not at the next poll. See :class:`collectors.traps.receiver.TrapReceiver`.
"""

from collectors.traps.receiver import TrapReceiver

__all__ = ["TrapReceiver"]
