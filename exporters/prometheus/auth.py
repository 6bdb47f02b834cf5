"""HTTP basic auth against bcrypt hashes, as Prometheus' exporter-toolkit web config does.

bcrypt is deliberately slow (tens of milliseconds per check), so checks run in a worker
thread and a successful (user, password) pair is remembered by a keyed digest for the life
of the process: a scraper presenting the same credentials every few seconds costs one
bcrypt check, not one per scrape. Passwords themselves are never stored or logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping

import bcrypt


class BasicAuth:
    """Checks ``Authorization: Basic ...`` headers against ``{user: bcrypt hash}``."""

    CACHE_MAX = 1024

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = {name: hashed.encode() for name, hashed in users.items()}
        self._key = os.urandom(32)
        self._good: set[bytes] = set()

    def _digest(self, user: str, password: bytes) -> bytes:
        return hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()

    async def check(self, header: str | None) -> bool:
        """True when the header names a configured user with the right password."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user_bytes, sep, password = decoded.partition(b":")
        if not sep:
            return False
        try:
            user = user_bytes.decode()
        except UnicodeDecodeError:
            return False
        hashed = self._users.get(user)
        if hashed is None:
            # spend the same time as a real check so user names cannot be probed
            await asyncio.to_thread(bcrypt.checkpw, password, _DUMMY_HASH)
            return False
        digest = self._digest(user, password)
        if digest in self._good:
            return True
        ok = await asyncio.to_thread(bcrypt.checkpw, password, hashed)
        if ok:
            if len(self._good) >= self.CACHE_MAX:
                self._good.clear()
            self._good.add(digest)
        return ok


_DUMMY_HASH = b"$2b$10$CwTycUXWue0Thq9StjUM0uJ8Dq6b8nSx4Q6oE2xq7GQh5mJcE6X9a"
