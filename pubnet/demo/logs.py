"""The demo's log hygiene: the CLI configured logging before the demo made its secrets, and
a thousand first-contact lines would scroll the scenario off the operator's screen."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pubnet.config import Config


def redact_logs(config: Config) -> None:
    """The CLI set up logging before the demo made its secrets; add them to the redactor."""
    from pubnet.config import secret_values
    from pubnet.logs import SecretRedactor

    for handler in logging.getLogger().handlers:
        handler.addFilter(SecretRedactor(secret_values(config)))


class FirstContactFilter(logging.Filter):
    """Drops the poller's "device up ... previous=none" line, logged once per device at start:
    a thousand of them would scroll the scenario away; recoveries are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(record.msg, str) and record.msg.startswith("device up")
                    and isinstance(args, tuple) and args and args[-1] == "none")
