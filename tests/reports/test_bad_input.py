"""Bad input: one clear line on stderr, exit 1, and never an output folder (nor a staging
folder left behind)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pubnet.cli import main
from tests.reports import month
from tests.support import free_port


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return month.write_setup(tmp_path)


def _run(config: Path, out: Path, *args: str) -> int:
    return main(["report", "coverage", "--config", str(config), "--out", str(out), *args])


def _nothing_written(out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-20", "--to", "2026-11-10"], "is not before --to"),
        (["--from", "2026-11-10", "--to", "2026-11-10"], "is not before --to"),
        (["--month", "2027-05"], "starts in the future"),
        (["--from", "2026-11-01T00:00", "--to", "2026-11-02"], "needs a zone"),
        (["--month", "2026-13"], "expected YYYY-MM"),
        (["--month", "2569-11"], "give the Gregorian year"),
        (["--from", "2026-11-01"], "--from needs --to"),
        (["--month", "2026-11", "--source", "prometheus"], "needs --prometheus-url"),
        (["--fiscal-year", "2026"], "Buddhist-era year"),
    ],
    ids=["from-after-to", "empty-period", "future", "naive-time", "bad-month", "be-year",
         "from-without-to", "prometheus-without-url", "fiscal-gregorian"],
)
def test_bad_period_and_flags(config: Path, tmp_path: Path, args: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert _run(config, out, *args) == 1
    assert message in capsys.readouterr().err
    _nothing_written(out)


def test_unreachable_prometheus(config: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    url = f"http://127.0.0.1:{free_port()}"
    assert _run(config, out, "--month", "2026-11", "--source", "prometheus",
                "--prometheus-url", url) == 1
    err = capsys.readouterr().err
    assert f"cannot reach Prometheus at {url}" in err and "Traceback" not in err
    _nothing_written(out)


def test_empty_history(config: Path, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(tmp_path / "pubnet.db") as conn:
        conn.execute("DELETE FROM history_runs")
        conn.execute("DELETE FROM history_changes")
    out = tmp_path / "out"
    assert _run(config, out, "--month", "2026-11") == 1
    assert "history is empty for this period" in capsys.readouterr().err
    _nothing_written(out)


def test_no_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = month.write_setup(tmp_path)
    (tmp_path / "pubnet.db").unlink()
    out = tmp_path / "out"
    assert _run(config, out, "--month", "2026-11") == 1
    assert "no pubnet database" in capsys.readouterr().err
    _nothing_written(out)


def test_pdf_failure_leaves_no_folder(config: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The CSVs and HTML were written when Chromium failed: none of it is visible."""
    monkeypatch.setenv("PUBNET_CHROMIUM", "/bin/false")
    out = tmp_path / "out"
    assert _run(config, out, "--month", "2026-11", "--pdf") == 1
    assert "Chromium failed" in capsys.readouterr().err
    _nothing_written(out)


def test_an_earlier_report_is_replaced_whole_and_a_foreign_folder_refused(
        config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert _run(config, out, "--month", "2026-11", "--lang", "en") == 0
    before = (out / "coverage.html").read_text(encoding="utf-8")
    monkeypatch.setenv("PUBNET_CHROMIUM", "/bin/false")
    assert _run(config, out, "--month", "2026-11", "--pdf") == 1  # failed: old one intact
    assert (out / "coverage.html").read_text(encoding="utf-8") == before
    monkeypatch.delenv("PUBNET_CHROMIUM")
    assert _run(config, out, "--month", "2026-11") == 0  # Thai now, replaced whole
    assert "พ.ศ. 2569" in (out / "coverage.html").read_text(encoding="utf-8")
    foreign = tmp_path / "papers"
    foreign.mkdir()
    (foreign / "letter.docx").write_bytes(b"x")
    capsys.readouterr()
    assert _run(config, foreign, "--month", "2026-11") == 1
    assert "holds no earlier report" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["letter.docx"]
