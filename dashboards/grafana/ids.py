"""Stable identifiers of the dashboards: an interface.

Links between dashboards, the compose stack's provisioning and operators' bookmarks use
these uids; renaming one breaks all of them, so they live here and nowhere else.
"""

from __future__ import annotations

from typing import Final

NOC: Final = "pubnet-noc"
SITE: Final = "pubnet-site"
BACKBONE: Final = "pubnet-backbone"
COVERAGE: Final = "pubnet-coverage"
HEALTH: Final = "pubnet-health"

TAG: Final = "pubnet"
"""Every dashboard carries it; the dashboards' link menu lists dashboards by it."""

DATASOURCE_UID: Final = "pubnet-prometheus"
"""uid of the provisioned Prometheus datasource (the datasource variable's default)."""
DATASOURCE_NAME: Final = "pubnet Prometheus"
DATASOURCE_VAR: Final = "datasource"

SLA_TARGET_PERCENT: Final = 99.5
"""Availability a site owes over the dashboard range; the coverage dashboard's constant."""
