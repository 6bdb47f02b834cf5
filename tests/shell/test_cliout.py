"""``pubnet.cliout.print_written``: the paths a command wrote on stdout, or one line naming
the file it could not write and why, with the exit status scripts rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from pubnet.cliout import EXIT_BAD_INPUT, EXIT_OK, print_written


def test_the_written_paths_one_a_line(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    paths = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    assert print_written(lambda: paths) == EXIT_OK
    out = capsys.readouterr()
    assert out.out.splitlines() == [str(p) for p in paths] and out.err == ""


def test_an_unwritable_file_is_named(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")

    def write() -> list[Path]:
        (blocker / "rules.yaml").write_text("")
        return [blocker / "rules.yaml"]

    assert print_written(write) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == f"{blocker / 'rules.yaml'}: Not a directory\n"
    assert print_written(write, prefix="pubnet x: ") == EXIT_BAD_INPUT
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == f"pubnet x: {blocker / 'rules.yaml'}: Not a directory\n"
