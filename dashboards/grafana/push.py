"""Upload the dashboards to a running Grafana with ``grafana-client``.

The folder is created when missing; every dashboard is saved with ``overwrite`` under its
stable uid, so a re-push updates it in place. One line per dashboard with its URL; a
Grafana error names the dashboard and the HTTP status. The token goes into the
``Authorization`` header only: it is never printed or logged, and it is masked in any
error text that might echo it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException

from pubnet.cliout import EXIT_FAILED, EXIT_OK

log = logging.getLogger("pubnet.dashboards")

MESSAGE = "pubnet dashboards push"


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str | None
    folder: str
    timeout: float = 30.0


def public_url(url: str) -> str:
    """``url`` without user:password and trailing slash, for printing."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class _Masked:
    """Replaces the secrets in text that may echo them (error bodies, exception text)."""

    def __init__(self, target: Target) -> None:
        parts = urlsplit(target.url)
        self._secrets = [s for s in (target.token, parts.password) if s]

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, "********")
        return out


def _detail(exc: GrafanaException) -> str:
    """Grafana's own message (``{"message": ...}``), else the client's text."""
    body = getattr(exc, "response", None)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.message)


def _folder_uid(api: GrafanaApi, title: str) -> str:
    for folder in api.folder.get_all_folders():
        if folder.get("title") == title:
            return str(folder["uid"])
    created: dict[str, Any] = api.folder.create_folder(title)
    log.info("grafana folder created", extra={"title": title, "uid": created.get("uid")})
    return str(created["uid"])


def push(target: Target, dashboards: Sequence[dict[str, Any]], out: TextIO,
         err: TextIO) -> int:
    """Save every dashboard; returns 0 when all were saved, 1 otherwise."""
    api = GrafanaApi.from_url(target.url, credential=target.token, timeout=target.timeout)
    # GrafanaApi has no close(); its HTTP session (``client.s``, niquests) holds the pooled
    # connections, left for the garbage collector otherwise (a ResourceWarning per socket).
    with contextlib.closing(api.client.s):
        return _push(api, target, dashboards, out, err)


def _push(api: GrafanaApi, target: Target, dashboards: Sequence[dict[str, Any]], out: TextIO,
          err: TextIO) -> int:
    mask = _Masked(target)
    base = public_url(target.url)
    try:
        folder_uid = _folder_uid(api, target.folder)
    except GrafanaException as exc:
        print(f"{MESSAGE}: folder {target.folder!r}: HTTP {exc.status_code}: "
              f"{mask(_detail(exc))}", file=err)
        return EXIT_FAILED
    except Exception as exc:  # connection refused, DNS, TLS: name the server, not the token
        print(f"{MESSAGE}: cannot reach {base}: {mask(exc)}", file=err)
        return EXIT_FAILED
    failed = 0
    for dashboard in dashboards:
        name = f"{dashboard.get('title')} ({dashboard.get('uid')})"
        body = {"dashboard": {**dashboard, "id": None}, "folderUid": folder_uid,
                "overwrite": True, "message": MESSAGE}
        try:
            saved: dict[str, Any] = api.dashboard.update_dashboard(body)
        except GrafanaException as exc:
            failed += 1
            status = exc.status_code or "no answer"
            print(f"{MESSAGE}: {name}: HTTP {status}: {mask(_detail(exc))}", file=err)
            continue
        except Exception as exc:
            failed += 1
            print(f"{MESSAGE}: {name}: {mask(exc)}", file=err)
            continue
        print(f"{dashboard.get('uid')}\t{dashboard.get('title')}\t{base}{saved.get('url', '')}",
              file=out)
    return EXIT_FAILED if failed else EXIT_OK
