"""The dashboards tests call ``pubnet.cli.main``, which points the root logger at the
captured stderr of that test; put the logging configuration back afterwards so that a later
test's log lines do not go to a closed capture."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
