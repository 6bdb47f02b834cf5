"""The argparse number types: what they accept and the words they reject with."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from pubnet.argtypes import non_negative, positive_int


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
