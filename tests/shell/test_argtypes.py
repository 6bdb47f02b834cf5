"""The argparse number types (what they accept, the words they reject with) and the group
of actions under one command."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from pubnet.argtypes import action_group, non_negative, positive_int


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (positive_int, "1", 1),
        (positive_int, "25000", 25000),
        (non_negative, "0", 0.0),
        (non_negative, "2.5", 2.5),
    ],
    ids=["int-1", "int-large", "float-0", "float-fraction"],
)
def test_accepts(parse: Callable[[str], float], text: str, value: float) -> None:
    assert parse(text) == value
    assert type(parse(text)) is type(value)


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (positive_int, "0", "must be at least 1"),
        (positive_int, "-3", "must be at least 1"),
        (positive_int, "1.5", "not a number: '1.5'"),
        (positive_int, "many", "not a number: 'many'"),
        (non_negative, "-0.1", "must be 0 or more"),
        (non_negative, "", "not a number: ''"),
    ],
    ids=["int-zero", "int-negative", "int-fraction", "int-word", "float-negative",
         "float-empty"],
)
def test_rejects_with_the_same_words(parse: Callable[[str], float], text: str,
                                     message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_action_group_names_the_chosen_action_and_requires_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="pubnet")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    action_group(commands, "report", "coverage reports").add_parser("coverage")
    assert parser.parse_args(["report", "coverage"]).report_command == "coverage"
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["report"])
    assert stopped.value.code == 2
    assert "the following arguments are required: ACTION" in capsys.readouterr().err
