"""Every command shown in README.md and docs/*.md works as written (issue 10, item 14).

The shell code blocks (```sh, ```bash, ```console with ``$ `` prompts) are extracted in
order and run in one working folder, README first, the way a new user would follow them:
``pubnet.yaml`` there is ``pubnet.example.yaml`` (its absolute priv-key path made relative
to it), and the alerting database holds the incidents and maintenance windows the
examples name (INC-7, INC-42, window 3). Absolute ``/tmp/...`` paths are redirected into
the folder. The daemon's secrets are in the environment only for the commands that use
them (:data:`NEEDS_SECRETS`): the README promises that a technician's shell without them
can list and acknowledge alerts.

Commands that need a server, run for minutes or serve until stopped are in :data:`SKIP`
with the reason; even those are checked for unknown flags (``pubnet`` commands against
pubnet's own parser, Python scripts against their ``--help``). Any other command must exit
0. A command matching no rule fails the test: add it to :data:`SKIP` with a reason or make
it runnable here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pubnet.cli import _build_parser, _UsageError, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "shell", "console", "zsh"}

SKIP: dict[str, str] = {
    "./scripts/demo": "sets up the venv and runs the one-minute demo on 127.0.0.1:9108",
    "./scripts/test": "the whole test suite (this test is part of it)",
    "pubnet run": "the daemon: it serves until stopped",
    "pubnet demo": "serves a simulated fleet until the scenario ends or Ctrl-C",
    "pubnet poll": "polls a live device; nothing answers SNMP for gw-1 or ap-nan-0001 here",
    "curl": "needs a running pubnet run serving /metrics",
    "pubnet dashboards push": "needs a Grafana server (tests/dashboards pushes to a stand-in)",
    "pip install": "installs packages; scripts/test has installed every extra before this runs",
    "mosquitto_pub": "needs a running MQTT broker",
    "python -m simulator": "serves a simulated fleet until stopped",
    "python bench/": "benchmarks: minutes of CPU on a shared machine",
    "sudo ": "installs pubnet as a system service on a VM (tests/deploy checks the unit with "
    "systemd-analyze)",
    "docker compose": "needs a Docker engine (tests/deploy checks the stack without one)",
    "cp .env.example .env": "the compose stack's first step, in the repository checkout",
    "pubnet report coverage": "needs a month of recorded history (tests/reports runs it on a "
    "synthetic month, from the history and from a real Prometheus)",
}
"""Command prefix (after ``.venv/bin/`` is dropped) -> why it is not run here."""

SECRETS = {"SNMP_COMMUNITY": "docs-community", "SNMP_AUTH_KEY": "docs-auth-key-123",
           "WEBHOOK_SECRET": "docs-webhook-secret"}
NEEDS_SECRETS = ("pubnet config check", "pubnet run", "pubnet poll")
"""Commands run with :data:`SECRETS` set; every other command runs without them."""


@dataclass(frozen=True)
class Command:
    doc: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}: {self.text}"


_OPTIONAL = re.compile(r"\[(--[\w-]+)(?: ([^\]|\s]+)(?:\|[^\]]*)?)?\]")
"""A synopsis group such as ``[--state firing|acknowledged|resolved]``: run its first choice."""


def shell_commands(doc: Path) -> Iterator[Command]:
    """The commands of the shell code blocks of one Markdown file, in order."""
    language: str | None = None
    pending, start = "", 0
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        fence = line.strip()
        if fence.startswith("```"):
            language = None if language is not None else fence[3:].strip().lower()
            continue
        if language not in SHELL_LANGUAGES:
            continue
        if language == "console":
            if not (pending or line.startswith("$ ")):
                continue  # output, not a command
            line = line.removeprefix("$ ")
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text and not text.startswith("#"):
            yield Command(doc, start, _OPTIONAL.sub(r"\1 \2", text).replace("  ", " "))


def all_commands() -> list[Command]:
    return [c for doc in DOCS for c in shell_commands(doc)]


def argv_of(command: Command, workdir: Path) -> list[str]:
    argv = shlex.split(command.text, comments=True)
    if argv and argv[0].startswith(".venv/bin/"):
        argv[0] = argv[0].removeprefix(".venv/bin/")
    return [str(workdir / arg.removeprefix("/")) if arg.startswith("/tmp/") else arg
            for arg in argv]


def skip_reason(argv: list[str]) -> str | None:
    text = " ".join(argv)
    return next((why for prefix, why in SKIP.items() if text.startswith(prefix)), None)


def unknown_flags(argv: list[str]) -> str | None:
    """Why a command that is not run would fail on its flags, or None."""
    if argv[0] == "pubnet":
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                _build_parser().parse_args(argv[1:])
            except (_UsageError, SystemExit):
                return err.getvalue().strip() or "rejected by the parser"
        return None
    if argv[0] == "python":
        target = ["-m", argv[2]] if argv[1] == "-m" else [str(ROOT / argv[1])]
        done = subprocess.run([sys.executable, *target, "--help"], capture_output=True,
                              text=True, timeout=120, check=False, cwd=ROOT)
        if done.returncode != 0:
            return f"--help failed: {done.stderr[-500:]}"
        flags = [a for a in argv if a.startswith("--")]
        missing = [f for f in flags if f.split("=")[0] not in done.stdout]
        return f"unknown flags {missing}" if missing else None
    if argv[0].startswith("./scripts/"):
        script = ROOT / argv[0]
        return None if os.access(script, os.X_OK) else f"{script} is not an executable script"
    return None


def seed_database(path: Path) -> None:
    """The incidents the docs acknowledge (INC-7, INC-42), firing, and maintenance windows."""
    from alerting.db import IncidentDB, IncidentFacts
    from alerting.model import Incident, Kind, Severity, State

    now = time.time()
    rows = []
    for n, (incident_id, root) in enumerate((("INC-7", "da-5001"), ("INC-42", "S-5001-gw"))):
        incident = Incident(incident_id, Kind.DEVICE_DOWN, Severity.MAJOR, f"device:{root}",
                            now - 600 + n, now - 590 + n, State.FIRING,
                            frozenset({f"device:{root}"}), announced_at=now)
        rows.append((incident, IncidentFacts("50", "5001", "S-1", 6, 3, root)))
    with IncidentDB(path) as db:
        db.save(rows, [], [], now)
        # Windows 1 to 3 exist (the docs end window 3), starting later so nothing is silenced.
        for _ in range(3):
            db.add_maintenance("province:50", now + 86400, now + 2 * 86400, "", "docs", now)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    example = (ROOT / "pubnet.example.yaml").read_text(encoding="utf-8")
    assert "file:/etc/pubnet/snmp-priv-key" in example
    (folder / "pubnet.yaml").write_text(
        example.replace("file:/etc/pubnet/snmp-priv-key", "file:snmp-priv-key"),
        encoding="utf-8")
    (folder / "snmp-priv-key").write_text("docs-priv-key-123\n", encoding="utf-8")
    seed_database(folder / "pubnet.db")
    return folder


def test_docs_have_shell_commands() -> None:
    commands = all_commands()
    assert len(commands) > 20, commands
    assert any(c.text.startswith("pubnet alerts list") for c in commands)
    assert any("--state firing" in c.text for c in commands)  # a synopsis, expanded


def test_every_documented_command_runs(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(workdir)
    failures: list[str] = []
    ran: list[str] = []
    for command in all_commands():
        try:
            argv = argv_of(command, workdir)
        except ValueError as exc:
            failures.append(f"{command}: cannot split: {exc}")
            continue
        reason = skip_reason(argv)
        if reason is not None:
            problem = unknown_flags(argv)
            if problem:
                failures.append(f"{command}: {problem}")
            continue
        if argv[0] != "pubnet":
            failures.append(f"{command}: not runnable here and not in SKIP (add it with a "
                            "reason, or make it runnable)")
            continue
        for name, value in SECRETS.items():
            if command.text.startswith(NEEDS_SECRETS):
                monkeypatch.setenv(name, value)
            else:
                monkeypatch.delenv(name, raising=False)
        capsys.readouterr()
        code = main(argv[1:])
        captured = capsys.readouterr()
        ran.append(command.text)
        if code != 0:
            failures.append(f"{command}: exit {code}: {captured.err.strip()[-800:]}")
    assert not failures, "\n".join(failures)
    assert any(t.startswith("pubnet inventory generate") for t in ran)
    assert any(t.startswith("pubnet config check") for t in ran)
    assert any(t.startswith("pubnet alerts ack") for t in ran)


def test_an_unknown_flag_in_the_docs_is_caught(tmp_path: Path) -> None:
    """The checks this test relies on do fail: a made-up flag is refused, a bad command
    exits nonzero."""
    doc = tmp_path / "bad.md"
    doc.write_text("```sh\npubnet run --config pubnet.yaml --colour green\n"
                   "pubnet inventory stats ./nowhere\n```\n", encoding="utf-8")
    run, stats = list(shell_commands(doc))
    assert unknown_flags(argv_of(run, tmp_path)) is not None
    assert main(argv_of(stats, tmp_path)[1:]) != 0


def test_readme_exit_codes_are_the_cli_s() -> None:
    """README lists every exit code the CLI uses, ``poll``'s 3 included."""
    from pubnet.cliout import EXIT_BAD_INPUT, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = readme[readme.index("Exit codes:"):].split(". ")[0]
    documented = {int(n) for n in re.findall(r"(?<![\w-])(\d)(?= )", sentence)}
    assert documented == {EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_SOME_FAILED}, sentence
