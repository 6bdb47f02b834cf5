"""The demo's log hygiene: the CLI configured logging before the demo made its secrets.

(First contact with each device is logged at debug by the collectors and summarised in one
line by :mod:`pubnet.app.startup`, so the demo needs no filter for it.)"""

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
