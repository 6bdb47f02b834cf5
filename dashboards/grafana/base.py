"""What every pubnet dashboard has: its stable uid, the ``pubnet`` tag, the datasource
variable first, the menu of the other dashboards, Bangkok time and a refresh rate."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import ids, links


def new_dashboard(uid: str, title: str, description: str,
                  variables: Sequence[cogbuilder.Builder[models.VariableModel]], *,
                  time_from: str = "now-6h", refresh: str = "1m") -> builders.Dashboard:
    return (builders.Dashboard(title).uid(uid).description(description).tags([ids.TAG])
            .timezone("Asia/Bangkok").time(time_from, "now").refresh(refresh)
            .tooltip(models.DashboardCursorSync.CROSSHAIR).editable()
            .variables(list(variables)).link(links.dashboards_menu()))
