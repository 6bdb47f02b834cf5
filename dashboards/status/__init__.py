"""The live NOC status page served by pubnet itself (issue 13, docs/status-page.md).

``fleet`` keeps the national counts change by change, ``geo`` the site map's GeoJSON,
``views`` the API's JSON documents, ``service`` caches them for many clients, ``api`` the
routes, ``component`` follows the state store; the page is ``static/`` (plain HTML, CSS
and JavaScript, no build step, nothing fetched from elsewhere).
"""

from dashboards.status.component import StatusPage

__all__ = ["StatusPage"]
