"""argparse pieces shared by the subcommands: value types, so that every flag rejects bad
numbers with the same words, and the group of actions under one command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

N = TypeVar("N", int, float)


def _number(text: str, parse: Callable[[str], N], least: N, too_small: str) -> N:
    """``text`` read by ``parse`` and at least ``least``; the words argparse prints otherwise."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(too_small)
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1 (``--sites``)."""
    return _number(text, int, 1, "must be at least 1")


def non_negative(text: str) -> float:
    """A number of 0 or more (``--duration``, where 0 means no limit)."""
    return _number(text, float, 0.0, "must be 0 or more")


def action_group(commands: Any, name: str, help: str) -> Any:
    """``pubnet NAME ACTION``: add the command ``name`` whose action is required; returns
    the subparsers to add its actions to (the chosen one is ``args.<name>_command``)."""
    command = commands.add_parser(name, help=help)
    actions = command.add_subparsers(dest=f"{name}_command", metavar="ACTION",
                                     parser_class=type(command))
    actions.required = True
    return actions
