"""The hot-path SNMP client: gufo-snmp's Rust sockets driven by our own small event-loop glue.

Why not ``gufo.snmp.aio.SnmpSession`` as is: it registers and unregisters the socket with the
event loop for every request, surfaces a datagram that does not decode as an exception that
ends the request, and has no retries. Here the socket is registered once per conversation, a
request waits on one future with one timer, an undecodable datagram is counted and waiting
goes on, and each request is retried ``retries`` times. Encoding, decoding, request-id
matching and USM live in gufo's Rust core (``gufo.snmp._fast``).

gufo-snmp 0.13 panics on some malformed answers, and Rust prints every panic (with
``RUST_BACKTRACE=1`` a 60-line backtrace) to stderr before pyo3 turns it into an exception;
no Python API reaches that hook. So gufo never reads a datagram pubnet has not checked:
each readable event first peeks at every queued datagram (:mod:`collectors.snmp.ber_check`)
and drops a malformed one, with the datagrams queued ahead of it, before gufo's read loop
(which reads on past answers that are not its own) could reach it. What is left: a malformed
datagram landing in the microseconds between that check and gufo's read, behind a
well-formed answer that is not gufo's (a flood from a spoofed agent address); its panic is
still caught and counted (``decode``), only Rust's message reaches stderr.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import math
import socket
from collections.abc import Callable, Sequence
from typing import Any, Self, TypeVar, cast

from gufo.snmp import _fast
from gufo.snmp.user import (
    Aes128Key,
    Aes192Key,
    Aes256Key,
    BaseAuthKey,
    BasePrivKey,
    DesKey,
    Md5Key,
    Sha1Key,
    Sha224Key,
    Sha256Key,
    Sha384Key,
    Sha512Key,
    User,
)

from collectors.snmp import ber_check, v3probe
from collectors.snmp.client import (
    PacketStats,
    SnmpClient,
    SnmpTarget,
    Value,
    get_each_alone,
    past_stop,
    walk_index,
)
from collectors.snmp.deadlines import Deadlines
from collectors.snmp.errors import (
    SnmpAuthError,
    SnmpError,
    SnmpNoSuchName,
    SnmpTimeout,
    SnmpUnknownUser,
    SnmpUnreachable,
)
from collectors.snmp.socket_pool import Borrowed, Lease, PoolKey, SocketPool
from pubnet.config import Credential

T = TypeVar("T")
_EXPIRED = object()
log = logging.getLogger("pubnet.snmp")

SO_PEEK_OFF = getattr(socket, "SO_PEEK_OFF", 42)
"""Linux's peek offset (UDP since 4.11): successive MSG_PEEKs walk the queued datagrams."""
MAX_DATAGRAM = 65536

_AUTH_KEYS: dict[str, type[BaseAuthKey]] = {
    "md5": Md5Key, "sha": Sha1Key, "sha224": Sha224Key, "sha256": Sha256Key,
    "sha384": Sha384Key, "sha512": Sha512Key,
}
_PRIV_KEYS: dict[str, type[BasePrivKey]] = {
    "des": DesKey, "aes128": Aes128Key, "aes192": Aes192Key, "aes256": Aes256Key,
}
V3_REFRESH_AFTER = 100.0
"""Seconds after which a v3 conversation re-learns the agent's boots/time (USM allows 150)."""


def v3_user(credential: Credential) -> User:
    """A gufo ``User`` (password keys, localized by gufo after engine-id discovery)."""
    auth_key: BaseAuthKey | None = None
    priv_key: BasePrivKey | None = None
    if credential.auth_protocol is not None and credential.auth_key is not None:
        auth_key = _AUTH_KEYS[credential.auth_protocol](
            credential.auth_key.get_secret_value().encode())
        if credential.priv_protocol != "none" and credential.priv_key is not None:
            priv_key = _PRIV_KEYS[credential.priv_protocol](
                credential.priv_key.get_secret_value().encode())
    return User(credential.user or "", auth_key=auth_key, priv_key=priv_key)


def _socket_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_rust_panic(exc: BaseException) -> bool:
    """pyo3's PanicException (a BaseException, not importable): gufo-snmp 0.13's BER decoder
    panics on some truncated datagrams instead of raising SnmpDecodeError."""
    return type(exc).__name__ == "PanicException"


class _TooBig(Exception):
    """A GETBULK response came back without varbinds: the agent's tooBig (gufo hides the
    error-status, an empty response is how it shows)."""


class GufoClient(SnmpClient):
    """One device's conversation (see :class:`collectors.snmp.client.SnmpClient`).

    v1/v2c close the socket when the ``async with`` block ends unless ``keep_open`` is set;
    v3 keeps it (and the learned engine id, boots and time) until :meth:`close`, so a poll
    costs no discovery round trip. With a ``pool`` (:mod:`collectors.snmp.socket_pool`), a
    v1/v2c client that does not keep its socket borrows one from the pool for the block
    instead of opening and closing its own. ``shapes`` shares the framing of GET answers
    (:class:`collectors.snmp.ber_check.Framing`) between the clients of one poller, and
    ``deadlines`` their requests' timeouts (:mod:`collectors.snmp.deadlines`).
    """

    __slots__ = (
        "_attempts", "_deadlines", "_engine_id", "_fd", "_framing", "_host",
        "_lease", "_loop", "_peeker", "_pool", "_pool_key", "_recv", "_recv_get",
        "_refreshed_at", "_sent", "_sock", "_stats", "_target", "_user", "_version",
        "_waiter",
    )

    def __init__(self, target: SnmpTarget, stats: PacketStats,
                 pool: SocketPool | None = None,
                 shapes: ber_check.Shapes | None = None,
                 deadlines: Deadlines | None = None) -> None:
        super().__init__()
        self._target = target
        self._pool = pool
        self._lease: Lease | None = None
        self._pool_key: PoolKey | None = None
        """Which pooled sockets carry this conversation's requests, known once the agent's
        address is (:meth:`_open`): the next block borrows one at once (:meth:`_borrow`)."""
        self._stats = stats
        self._attempts = target.retries + 1
        self._version = target.credential.version
        self._user = v3_user(target.credential) if self._version == "3" else None
        self._host = target.host if _is_ip(target.host) else ""
        self._sock: Any = None
        self._fd = -1
        self._peeker: Borrowed | None = None
        """A Python socket object on gufo's descriptor, kept as long as the socket (the
        pool's for a borrowed one): :meth:`_screen` peeks through it."""
        self._recv_get: Callable[[], Any] | None = None
        """The socket's ``recv_get_many``, kept so that :meth:`_screen` knows a GET answer
        is awaited (those come back framed the same poll after poll: :class:`Framing`)."""
        self._framing = ber_check.Framing(shapes)
        self._deadlines = deadlines if deadlines is not None else Deadlines()
        """Where requests' timeouts wait (one timer per timeout for a whole poller)."""
        self._sent = 0
        """Requests sent so far: the last one's number is the one awaited."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[Any] | None = None
        """The answer awaited, resolved by :meth:`_on_readable`, or ``_EXPIRED`` by the timer."""
        self._recv: Callable[[], Any] | None = None
        """How to read the answer awaited (gufo has one ``recv_*`` per request kind)."""
        self._engine_id = b""
        self._refreshed_at = -math.inf

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._sock is None:
            if self._pool_key is not None and not self.keep_open:
                self._borrow(self._pool_key)  # every block after the first, at 100,000
            else:
                await self._open()
        if self._user is not None and (
            self._loop is not None and self._loop.time() - self._refreshed_at > V3_REFRESH_AFTER
        ):
            await self._refresh()
        return self

    def _keeps_socket(self) -> bool:
        """v3 always keeps it: the engine id, boots and time it learned stay valid."""
        return self.keep_open or self._user is not None

    def close(self) -> None:
        """Unregister and drop the socket (Rust closes it when the object goes), or give a
        borrowed one back to the pool."""
        lease = self._lease
        if lease is not None:
            self._lease = None
            assert self._pool is not None
            self._pool.release(lease)
        else:
            if self._sock is not None and self._loop is not None:
                self._loop.remove_reader(self._fd)
            if self._peeker is not None:
                self._peeker.detach()
        self._peeker = None
        self._sock = None
        self._recv_get = None
        self._fd = -1

    async def _open(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        if not self._host:
            try:
                infos = await loop.getaddrinfo(self._target.host, self._target.port,
                                               type=socket.SOCK_DGRAM)
            except OSError as exc:
                raise SnmpUnreachable(f"cannot resolve {self._target.host}: {exc}") from None
            self._host = str(infos[0][4][0])
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        if self._pool is not None and self._user is None and not self.keep_open:
            community = self._target.credential.community
            self._pool_key = self._pool.key(
                family, self._version,
                community.get_secret_value() if community is not None else "")
            self._borrow(self._pool_key)
            return
        sock = self._new_socket()
        self._sock = sock
        self._recv_get = sock.recv_get_many
        self._fd = sock.get_fd()
        peeker = self._peeker = Borrowed(family, socket.SOCK_DGRAM, 0, self._fd)
        peeker.setsockopt(socket.SOL_SOCKET, SO_PEEK_OFF, 0)
        loop.add_reader(self._fd, self._on_readable)

    def _borrow(self, key: PoolKey) -> None:
        """Take a pooled socket connected to the agent (:mod:`collectors.snmp.socket_pool`).

        Synchronous, and without asking for the running loop (a system call, ``getpid``,
        in Python 3.11): a borrowed socket's readable events come from the pool's loop, so
        that is where this conversation's requests wait."""
        pool = self._pool
        assert pool is not None
        try:
            lease = pool.acquire(key, (self._host, self._target.port), self._open_pooled,
                                 self._on_readable)
        except OSError as exc:
            raise SnmpUnreachable(str(exc)) from None
        self._loop = pool.loop
        self._lease = lease
        self._sock = lease.sock
        self._recv_get = lease.sock.recv_get_many
        self._fd = lease.fd
        self._peeker = lease.peeker

    def _open_pooled(self) -> tuple[Any, int]:
        """A new socket for the pool (none with this conversation's key is idle)."""
        assert self._pool_key is not None
        sock = self._new_socket()
        fd = sock.get_fd()
        with Borrowed(self._pool_key[0], socket.SOCK_DGRAM, 0, fd) as peeker:
            peeker.setsockopt(socket.SOL_SOCKET, SO_PEEK_OFF, 0)
        return sock, fd

    def _new_socket(self) -> Any:
        """gufo's socket for this conversation, connected to the agent."""
        addr = _socket_address(self._host, self._target.port)
        cred = self._target.credential
        try:
            if self._version == "1":
                sock: Any = _fast.SnmpV1ClientSocket(
                    addr, cred.community.get_secret_value() if cred.community else "", 0, 0, 0, 0)
            elif self._version == "2c":
                sock = _fast.SnmpV2cClientSocket(
                    addr, cred.community.get_secret_value() if cred.community else "", 0, 0, 0, 0)
            else:
                user = self._user if self._engine_id else User.default()
                assert user is not None
                sock = _fast.SnmpV3ClientSocket(
                    addr, self._engine_id, user.name, user.get_auth_alg(), user.get_auth_key(),
                    user.get_priv_alg(), user.get_priv_key(), 0, 0, 0, 0)
        except OSError as exc:
            raise SnmpUnreachable(str(exc)) from None
        return sock

    async def _refresh(self) -> None:
        """Learn the engine id (first time) and boots/time (every ``V3_REFRESH_AFTER`` s)."""
        sock = self._sock
        user = self._user
        assert user is not None and self._loop is not None
        if not self._engine_id:
            await self._exchange(sock.send_refresh, sock.recv_refresh)
            self._engine_id = bytes(sock.get_engine_id())
            sock.set_keys(user.name, user.get_auth_alg(), user.get_auth_key(),
                          user.get_priv_alg(), user.get_priv_key())
        if user.require_auth():
            await self._guarded(sock.send_refresh, sock.recv_refresh)
        self._refreshed_at = self._loop.time()

    # -- event-loop glue --------------------------------------------------------------------

    def _on_readable(self) -> None:
        """Read the datagram in the callback that saw it arrive.

        Reading here rather than in the waiting task means every wake-up has a datagram
        behind it (a task woken later may find the socket already drained by its previous
        wake-up), so gufo's "would block" after a readable socket reliably means it read a
        datagram and skipped it: its request id is not the one awaited.
        """
        waiter = self._waiter
        recv: Callable[[], Any] = self._recv or self._sock.recv_get_many
        try:
            if not self._screen():
                return
            value = recv()
        except BlockingIOError:
            self._stats.drop("request_id")
            return
        except _fast.SnmpDecodeError:
            self._stats.drop("decode")
            return
        except BaseException as exc:
            if _is_rust_panic(exc):
                self._stats.drop("decode")  # gufo's decoder panicked on a malformed packet
                return
            self._rewind()  # gufo may have failed before reading what was screened
            if waiter is None:
                if isinstance(exc, Exception):
                    return  # an error answer nobody waits for any more
                raise
            if not waiter.done():
                waiter.set_exception(exc)
            return
        if waiter is None:
            # A late answer to the last request, given up on: read and thrown away.
            self._stats.drop("late_response")
        elif not waiter.done():
            waiter.set_result(value)

    def _rewind(self) -> None:
        """Peek from the first queued datagram again (see :meth:`_screen`)."""
        if self._peeker is not None:
            self._peeker.setsockopt(socket.SOL_SOCKET, SO_PEEK_OFF, 0)

    def _screen(self) -> bool:
        """Check every queued datagram before gufo reads any; True when gufo may read.

        A malformed datagram is read and dropped here (``decode``), together with every
        datagram queued ahead of it (``flushed``): gufo reads on past well-formed answers
        that are not its own, so it must not start while a malformed one is behind them.
        Raises the socket's error (an ICMP port unreachable) for the waiting request.

        Each peek moves the socket's peek offset past the datagram it saw; the offset is 0
        whenever this starts. When exactly one datagram was queued and it is well formed
        (nearly every answer) the offset is left past it: gufo reads it whole (its buffer
        takes any datagram), which moves the offset back by its length, to 0, and saves a
        ``setsockopt`` per answer. Otherwise, and when gufo fails before reading
        (:meth:`_on_readable`), it is set back to 0 here.
        """
        peeker = self._peeker
        assert peeker is not None
        check = self._framing.check if self._recv is self._recv_get else ber_check.check
        # The usual answer, one well-formed datagram, straight through; the rest below.
        try:
            data = peeker.recv(MAX_DATAGRAM, socket.MSG_PEEK)
        except BlockingIOError:
            return False  # nothing queued
        try:
            check(data)
        except ber_check.Malformed as exc:
            self._log_malformed(data, exc)
            return self._screen_queue(check, [True])
        try:
            data = peeker.recv(MAX_DATAGRAM, socket.MSG_PEEK)
        except BlockingIOError:
            return True  # the peek offset is left past it, for gufo's read to move back
        except BaseException:
            peeker.setsockopt(socket.SOL_SOCKET, SO_PEEK_OFF, 0)
            raise
        return self._screen_queue(check, [False], data)

    def _screen_queue(self, check: Callable[[bytes], None], malformed: list[bool],
                      data: bytes | None = None) -> bool:
        """:meth:`_screen` once a datagram was malformed or a second one queued: check the
        rest (``data`` first, peeked already), then drop the malformed ones and those ahead
        of them. ``malformed`` says, for each datagram peeked so far, whether it was."""
        peeker = self._peeker
        assert peeker is not None
        try:
            while True:
                if data is None:
                    data = peeker.recv(MAX_DATAGRAM, socket.MSG_PEEK)
                try:
                    check(data)
                except ber_check.Malformed as exc:
                    malformed.append(True)
                    self._log_malformed(data, exc)
                else:
                    malformed.append(False)
                data = None
        except BlockingIOError:
            pass
        except BaseException:
            peeker.setsockopt(socket.SOL_SOCKET, SO_PEEK_OFF, 0)
            raise
        peeker.setsockopt(socket.SOL_SOCKET, SO_PEEK_OFF, 0)
        if True not in malformed:
            return True
        last = len(malformed) - 1 - malformed[::-1].index(True)
        for bad in malformed[:last + 1]:
            peeker.recv(1)
            self._stats.drop("decode" if bad else "flushed")
        return last + 1 < len(malformed)

    def _log_malformed(self, data: bytes, exc: ber_check.Malformed) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("malformed SNMP answer dropped", extra={
                "host": self._host, "port": self._target.port, "problem": str(exc),
                "bytes": data[:512].hex()})

    def expire(self, request: int) -> None:
        """Request number ``request`` ran out of time (:mod:`collectors.snmp.deadlines`):
        wake its waiter, unless it was answered (or given up on) already."""
        waiter = self._waiter
        if request == self._sent and waiter is not None and not waiter.done():
            waiter.set_result(_EXPIRED)

    async def _exchange(self, send: Callable[[], None], recv: Callable[[], T]) -> T:
        """Send, wait for the matching answer, retry on timeout; map errors to ours."""
        loop = self._loop
        assert loop is not None
        stats = self._stats
        timeout = self._target.timeout
        for attempt in range(self._attempts):
            if attempt:
                stats.retries += 1
            stats.requests += 1
            try:
                send()
            except BlockingIOError:
                stats.drop("send_buffer_full")
                await asyncio.sleep(0)
                continue
            except OSError as exc:
                raise SnmpUnreachable(str(exc)) from None
            waiter = self._waiter = loop.create_future()
            self._recv = recv
            self._sent += 1
            self._deadlines.add(loop, timeout, self, self._sent)
            try:
                value = await waiter
                if value is not _EXPIRED:
                    return cast(T, value)
            except _fast.SnmpAuthError:
                raise SnmpAuthError("authentication failed") from None
            except _fast.NoSuchInstance:
                raise SnmpNoSuchName("no such instance") from None
            except TimeoutError as exc:  # gufo maps ECONNREFUSED to TimeoutError
                raise SnmpUnreachable(str(exc) or "connection refused") from None
            except ConnectionError as exc:
                raise SnmpUnreachable(str(exc)) from None
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    raise SnmpUnreachable(str(exc)) from None
                if "refused" in str(exc) or "unreachable" in str(exc):
                    raise SnmpUnreachable(str(exc)) from None
                raise SnmpError(f"socket error: {exc}") from None
            except _fast.SnmpError as exc:
                raise SnmpError(str(exc)) from None
            finally:
                self._waiter = None
                self._recv = None
        raise SnmpTimeout(f"no answer after {self._attempts} attempt(s) of {timeout:g}s")

    async def _diagnose(self, exc: SnmpAuthError) -> SnmpAuthError:
        """Turn gufo's one "authentication failed" into unknown user vs wrong keys."""
        if self._user is None or not self._engine_id or self._host == "":
            return exc
        unknown = await v3probe.user_is_unknown(
            self._host, self._target.port, self._user.name, self._engine_id,
            self._target.timeout)
        if unknown:
            return SnmpUnknownUser(f"agent does not know user {self._user.name}")
        return SnmpAuthError("authentication failed: wrong auth key or protocol")

    async def _guarded(self, send: Callable[[], None], recv: Callable[[], T]) -> T:
        try:
            return await self._exchange(send, recv)
        except SnmpUnknownUser:
            raise
        except SnmpAuthError as exc:
            if self._worth_repeating():
                try:
                    value = await self._exchange(send, recv)
                except SnmpAuthError:
                    pass
                else:
                    if self._loop is not None:
                        self._refreshed_at = self._loop.time()
                    return value
            self.close()
            raise await self._diagnose(exc) from None
        except SnmpTimeout:
            if self._user is not None and self._user.priv_key is not None:
                raise await self._privacy_check() from None
            raise

    def _worth_repeating(self) -> bool:
        """Whether a failed request is worth repeating once, as is.

        A kept v3 conversation that worked before fails authentication: most often the
        agent rebooted (snmpEngineBoots went up, snmpEngineTime started over) or its clock
        jumped, and it answered with a notInTimeWindow report carrying its current boots and
        time. gufo's socket takes boots/time from every message it accepts, that report
        included, so the conversation is in sync again: repeating the request costs one
        extra round trip, where a refresh first would cost two and learn nothing new.
        """
        return (self._user is not None and self._sock is not None
                and self._refreshed_at != -math.inf)

    async def _privacy_check(self) -> SnmpError:
        """An authPriv request timed out. If the agent still answers an unencrypted probe
        for the same user, it is alive and dropping what we encrypt: a wrong privacy key."""
        timeout = SnmpTimeout(f"no answer after {self._attempts} attempt(s)")
        if not self._engine_id or not self._host or self._user is None:
            return timeout
        unknown = await v3probe.user_is_unknown(
            self._host, self._target.port, self._user.name, self._engine_id,
            self._target.timeout)
        if unknown is None:
            return timeout
        self.close()
        if unknown:
            return SnmpUnknownUser(f"agent does not know user {self._user.name}")
        return SnmpAuthError("agent answers but drops our encrypted requests: "
                             "wrong privacy key or protocol")

    # -- requests ---------------------------------------------------------------------------

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        """GET ``oids`` in one PDU (v1: one PDU per OID when the agent rejects the set)."""
        if self._sock is None:
            await self._open()
            if self._user is not None:
                await self._refresh()
        sock = self._sock
        oid_list = list(oids)
        recv = self._recv_get
        assert recv is not None
        try:
            if self._user is None:
                # v1/v2c: what _guarded adds is v3's; one coroutine less a request
                result: dict[str, Value] = await self._exchange(
                    lambda: sock.send_get_many(oid_list), recv)
            else:
                result = await self._guarded(lambda: sock.send_get_many(oid_list), recv)
        except SnmpAuthError as exc:
            if self._user is None:
                self.close()  # as _guarded does
            raise exc from None
        if not result and self._version == "1" and len(oid_list) > 1:
            return await get_each_alone(oid_list, lambda oid: self._guarded(
                lambda: sock.send_get_many([oid]), recv))
        return result

    async def _walk(self, oid: str, max_repetitions: int, limit: tuple[int, ...] | None
                    ) -> list[tuple[str, Value]]:
        """Walk ``oid``'s subtree; on an empty (tooBig) answer retry with fewer repetitions."""
        if self._sock is None:
            await self._open()
            if self._user is not None:
                await self._refresh()
        if self._version == "1":
            return await self._walk_next(oid, limit)
        reps = max(1, max_repetitions)
        shrunk_after_timeout = False
        while True:
            try:
                return await self._walk_bulk(oid, reps, limit)
            except _TooBig:
                if reps == 1:
                    return []
                self._stats.drop("too_big")
                reps = max(1, reps // 4)
            except SnmpTimeout:
                # The agent answered the GET but not this walk: an oversized response lost
                # on the way (fragments) looks like this. Try once more with fewer.
                if reps == 1 or shrunk_after_timeout:
                    raise
                shrunk_after_timeout = True
                reps = max(1, reps // 4)

    async def _walk_bulk(self, oid: str, reps: int, limit: tuple[int, ...] | None
                         ) -> list[tuple[str, Value]]:
        sock = self._sock
        it = _fast.GetIter(oid, reps)
        plen = len(oid) + 1
        out: list[tuple[str, Value]] = []
        last: tuple[int, ...] = ()
        while True:
            try:
                batch: list[tuple[str, Value] | None] = await self._guarded(
                    lambda: sock.send_get_bulk(it), lambda: sock.recv_get_bulk(it))
            except StopAsyncIteration:
                if not out:
                    raise _TooBig from None
                return out
            # Only the boundaries are parsed (the hot path): the walk goes on from the last
            # OID of a batch, so a batch that does not end beyond where the previous one
            # ended (or begin beyond it) is what would loop.
            ended = batch[-1] is None
            if ended:
                batch.pop()
            if not batch:
                return out
            first = tuple(map(int, batch[0][0][plen:].split(".")))  # type: ignore[index]
            final = tuple(map(int, batch[-1][0][plen:].split(".")))  # type: ignore[index]
            if first <= last or final < first:
                self._stats.drop("non_increasing_oid")
                return out
            last = final
            out.extend(batch)  # type: ignore[arg-type]
            if ended or past_stop(last, limit):
                return out

    async def _walk_next(self, oid: str, limit: tuple[int, ...] | None
                         ) -> list[tuple[str, Value]]:
        sock = self._sock
        it = _fast.GetIter(oid)
        prefix = oid + "."
        out: list[tuple[str, Value]] = []
        last: tuple[int, ...] = ()
        while True:
            try:
                item: tuple[str, Value] = await self._guarded(
                    lambda: sock.send_get_next(it), lambda: sock.recv_get_next(it))
            except (StopAsyncIteration, SnmpNoSuchName):
                return out
            index = walk_index(item[0], prefix, last, self._stats)
            if index is None:
                return out
            last = index
            out.append(item)
            if past_stop(index, limit):
                return out
