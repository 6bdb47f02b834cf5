"""Grafana dashboards as code, built with Grafana's own SDK (``grafana-foundation-sdk``).

One module per dashboard (:mod:`noc`, :mod:`site`, :mod:`backbone`, :mod:`coverage`,
:mod:`health`), sharing small helpers (:mod:`panels`, :mod:`areas`, :mod:`variables`,
:mod:`layout`). :func:`build_all` returns the dashboards as SDK models; :mod:`render`
writes them and the provisioning files; :mod:`push` uploads them with ``grafana-client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grafana_foundation_sdk.models import dashboard as models


def build_all() -> list[models.Dashboard]:
    """The five dashboards, in menu order."""
    from dashboards.grafana import backbone, coverage, health, noc, site

    return [noc.build(), site.build(), backbone.build(), coverage.build(), health.build()]
