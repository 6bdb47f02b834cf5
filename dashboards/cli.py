"""``pubnet dashboards build|push``: Grafana dashboards from code.

``register`` adds the subcommands to the shell's parser; handlers return exit codes. The
Grafana SDK and client are an extra (``pip install 'pubnet[dashboards]'``), imported only
when a dashboards command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pubnet.argtypes import action_group
from pubnet.cliout import EXIT_BAD_INPUT, print_written

INSTALL_HINT = "pip install 'pubnet[dashboards]'"


def register(commands: Any) -> None:
    """Add ``dashboards build`` and ``dashboards push`` to the shell's subcommands."""
    from dashboards.grafana import defaults

    dash_cmds = action_group(commands, "dashboards", "build or push the Grafana dashboards")

    build = dash_cmds.add_parser(
        "build", help="write DIR/dashboards/<uid>.json and Grafana provisioning files")
    build.add_argument("--out", type=Path, required=True, metavar="DIR")
    build.add_argument("--prometheus-url", default=defaults.PROMETHEUS_URL, metavar="URL",
                       help=f"the datasource's Prometheus (default {defaults.PROMETHEUS_URL})")
    build.add_argument("--dashboards-path", default=defaults.DASHBOARDS_PATH, metavar="PATH",
                       help="where Grafana sees DIR/dashboards (default: the compose "
                       f"stack's mount, {defaults.DASHBOARDS_PATH})")
    build.add_argument("--scrape-interval", default=defaults.SCRAPE_INTERVAL,
                       metavar="DURATION", help="Prometheus' scrape interval for pubnet "
                       f"(sets $__rate_interval; default {defaults.SCRAPE_INTERVAL})")
    build.set_defaults(handler=cmd_build)

    push = dash_cmds.add_parser("push", help="upload the dashboards to Grafana's HTTP API")
    push.add_argument("--url", required=True, metavar="URL",
                      help="Grafana's base URL, e.g. http://grafana:3000")
    token = push.add_mutually_exclusive_group()
    token.add_argument("--token-env", metavar="NAME",
                       help="environment variable holding a service-account token")
    token.add_argument("--token-file", type=Path, metavar="PATH",
                       help="file holding a service-account token")
    push.add_argument("--folder", default=defaults.FOLDER, metavar="NAME",
                      help="Grafana folder, created when missing (default: pubnet)")
    push.set_defaults(handler=cmd_push)


def _sdk_missing(command: str) -> bool:
    try:
        import grafana_client  # noqa: F401
        import grafana_foundation_sdk  # noqa: F401
    except ImportError as exc:
        print(f"pubnet dashboards {command}: {exc.name} is not installed ({INSTALL_HINT})",
              file=sys.stderr)
        return True
    return False


def cmd_build(args: argparse.Namespace) -> int:
    if _sdk_missing("build"):
        return EXIT_BAD_INPUT
    from dashboards.grafana import build_all, render

    options = render.Options(prometheus_url=args.prometheus_url,
                             dashboards_path=args.dashboards_path,
                             scrape_interval=args.scrape_interval)
    contents = render.files(build_all(), options)
    return print_written(lambda: render.write(args.out, contents),
                         prefix="pubnet dashboards build: ")


def _token(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(token, error)."""
    if args.token_env:
        value = os.environ.get(args.token_env, "").strip()
        if not value:
            return None, f"environment variable {args.token_env} is not set"
        return value, None
    if args.token_file:
        try:
            value = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            return None, f"cannot read the token file {args.token_file}: {exc.strerror}"
        if not value:
            return None, f"the token file {args.token_file} is empty"
        return value, None
    return None, None


def cmd_push(args: argparse.Namespace) -> int:
    if _sdk_missing("push"):
        return EXIT_BAD_INPUT
    from dashboards.grafana import build_all, render
    from dashboards.grafana.push import Target, push

    token, error = _token(args)
    if error is not None:
        print(f"pubnet dashboards push: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    dashboards = [render.to_dict(d) for d in build_all()]
    return push(Target(args.url, token, args.folder), dashboards, sys.stdout, sys.stderr)
