"""HTTP basic auth against bcrypt hashes, as Prometheus' exporter-toolkit web config does.

bcrypt is deliberately slow (tens of milliseconds per check), which makes it a lever for
whoever can reach the port: 50 clients sending wrong passwords kept ~1.5 cores busy
(issue 10). So:

- the verdict for a (user, password) pair is remembered, good or bad, under an HMAC of the
  pair with a key drawn at start (never the password itself, never logged): a scraper
  presenting the same credentials every few seconds costs one bcrypt check for the life of
  the process, and so does a flood repeating one wrong password. The users and hashes are
  fixed while the process runs, so a remembered verdict cannot go stale. Each memory holds
  at most :attr:`BasicAuth.CACHE_MAX` entries and starts over when full;
- at most :data:`MAX_CONCURRENT_CHECKS` bcrypt checks run at once, in a worker thread (never
  on the event loop); the rest wait their turn. A flood of distinct wrong passwords costs
  at most that many cores, and a client whose verdict is remembered never waits.
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

from pubnet.httpstats import AuthStats

MAX_CONCURRENT_CHECKS = 1
"""bcrypt checks running at once (each takes one core while it runs)."""


class BasicAuth:
    """Checks ``Authorization: Basic ...`` headers against ``{user: bcrypt hash}``."""

    CACHE_MAX = 1024

    def __init__(self, users: Mapping[str, str], stats: AuthStats | None = None) -> None:
        self._users = {name: hashed.encode() for name, hashed in users.items()}
        self._key = os.urandom(32)
        self._good: set[bytes] = set()
        self._bad: set[bytes] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
        self.stats = stats if stats is not None else AuthStats()

    def _digest(self, user: bytes, password: bytes) -> bytes:
        return hmac.new(self._key, user + b"\0" + password, hashlib.sha256).digest()

    async def check(self, header: str | None) -> bool:
        """True when the header names a configured user with the right password."""
        ok = await self._check(header)
        if not ok:
            self.stats.failures += 1
        return ok

    async def user(self, header: str | None) -> str | None:
        """The configured user the header names with the right password, else None."""
        if not await self.check(header):
            return None
        assert header is not None
        decoded = base64.b64decode(header[6:].strip(), validate=True)
        return decoded.partition(b":")[0].decode()

    async def _check(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user_bytes, sep, password = decoded.partition(b":")
        if not sep:
            return False
        digest = self._digest(user_bytes, password)
        if digest in self._good:
            return True
        if digest in self._bad:
            return False
        try:
            hashed = self._users.get(user_bytes.decode())
        except UnicodeDecodeError:
            hashed = None
        async with self._slots:
            # the same pair may have been checked while this one waited its turn
            if digest in self._good:
                return True
            if digest in self._bad:
                return False
            self.stats.checks += 1
            # an unknown user costs the same as a known one, so names cannot be probed
            ok = await asyncio.to_thread(bcrypt.checkpw, password, hashed or _DUMMY_HASH)
        ok = ok and hashed is not None
        remembered = self._good if ok else self._bad
        if len(remembered) >= self.CACHE_MAX:
            remembered.clear()
        remembered.add(digest)
        return ok


_DUMMY_HASH = b"$2b$10$CwTycUXWue0Thq9StjUM0uJ8Dq6b8nSx4Q6oE2xq7GQh5mJcE6X9a"
"""A well-formed hash at the usual cost (10), checked for unknown users."""
