"""The domain: sites, devices, links and the topology they form.

Loading inventories from CSV folders or YAML files, validating them with errors that name
file and line, computing paths and downstream sets, and generating realistic national
inventories from Thailand's administrative divisions.
"""

from inventory.generate import generate
from inventory.loader import InventoryError, LoadResult, load_inventory
from inventory.model import (
    NON_SNMP_PROFILES,
    SNMP_PROFILES,
    Device,
    Inventory,
    Link,
    Medium,
    Role,
    Site,
    SiteKind,
    SourceLocation,
)
from inventory.problems import Problem, Severity, has_errors
from inventory.stats import InventoryStats, compute_stats, render_stats
from inventory.topology import Topology
from inventory.validate import validate
from inventory.writer import write_inventory

__all__ = [
    "NON_SNMP_PROFILES",
    "SNMP_PROFILES",
    "Device",
    "Inventory",
    "InventoryError",
    "InventoryStats",
    "Link",
    "LoadResult",
    "Medium",
    "Problem",
    "Role",
    "Severity",
    "Site",
    "SiteKind",
    "SourceLocation",
    "Topology",
    "compute_stats",
    "generate",
    "has_errors",
    "load_inventory",
    "render_stats",
    "validate",
    "write_inventory",
]
