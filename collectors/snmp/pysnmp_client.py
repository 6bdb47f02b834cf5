"""The same client interface on pysnmp 7 (its asyncio v3arch API).

Not the hot path — pysnmp costs ~30× gufo-snmp's CPU per request — but a second, independent
SNMP stack behind :class:`collectors.snmp.client.SnmpClient`: the simulator and tests can
swap it in (``DevicePoller(..., client_factory=PysnmpClient)``) to cross-check gufo-snmp, and
pysnmp's USM reports name their cause directly (unknown user, wrong digest, decryption).
Each client owns one ``SnmpEngine`` (pysnmp keeps engine-id caches per engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from pysnmp.hlapi.v3arch import asyncio as hlapi
from pysnmp.proto import errind, rfc1902, rfc1905

from collectors.snmp import client, errors
from collectors.snmp.client import PacketStats, SnmpClient, SnmpTarget, Value

_AUTH = {"md5": "usmHMACMD5AuthProtocol", "sha": "usmHMACSHAAuthProtocol",
         "sha224": "usmHMAC128SHA224AuthProtocol", "sha256": "usmHMAC192SHA256AuthProtocol",
         "sha384": "usmHMAC256SHA384AuthProtocol", "sha512": "usmHMAC384SHA512AuthProtocol"}
# net-snmp (and gufo-snmp's default) expand AES-192/256 keys the Blumenthal way.
_PRIV = {"des": "usmDESPrivProtocol", "aes128": "usmAesCfb128Protocol",
         "aes192": "usmAesBlumenthalCfb192Protocol",
         "aes256": "usmAesBlumenthalCfb256Protocol"}


class PysnmpClient(SnmpClient):
    """One device's conversation over pysnmp (see :class:`~collectors.snmp.client.SnmpClient`)."""

    def __init__(self, target: SnmpTarget, stats: PacketStats) -> None:
        super().__init__()
        self._hl: Any = hlapi
        self._target = target
        self._stats = stats
        self._engine: Any = None
        self._transport: Any = None
        cred = target.credential
        if cred.version in ("1", "2c"):
            community = cred.community.get_secret_value() if cred.community else ""
            self._auth: Any = hlapi.CommunityData(community,
                                                  mpModel=0 if cred.version == "1" else 1)
        else:
            kwargs: dict[str, Any] = {}
            if cred.auth_protocol and cred.auth_key:
                kwargs["authKey"] = cred.auth_key.get_secret_value()
                kwargs["authProtocol"] = getattr(hlapi, _AUTH[cred.auth_protocol])
            if cred.priv_protocol != "none" and cred.priv_key:
                kwargs["privKey"] = cred.priv_key.get_secret_value()
                kwargs["privProtocol"] = getattr(hlapi, _PRIV[cred.priv_protocol])
            self._auth = hlapi.UsmUserData(cred.user or "", **kwargs)
        self._context = hlapi.ContextData(contextName=cred.context or "")
        self._v1 = cred.version == "1"

    async def __aenter__(self) -> Self:
        if self._engine is not None:
            return self  # kept open (keep_open)
        hl = self._hl
        self._engine = hl.SnmpEngine()
        try:
            self._transport = await hl.UdpTransportTarget.create(
                (self._target.host, self._target.port), timeout=self._target.timeout,
                retries=self._target.retries)
        except Exception as exc:
            self.close()
            raise errors.SnmpUnreachable(f"cannot resolve {self._target.host}: {exc}") from None
        return self

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    # -- mapping ----------------------------------------------------------------------------

    def _raise_for(self, indication: Any, status: Any, index: Any) -> None:
        if indication:
            if isinstance(indication, errind.RequestTimedOut):
                raise errors.SnmpTimeout(f"no answer after {self._target.retries + 1} attempt(s)")
            if isinstance(indication, errind.UnknownUserName):
                user = self._target.credential.user
                raise errors.SnmpUnknownUser(f"agent does not know user {user}")
            if isinstance(indication, errind.WrongDigest | errind.DecryptionError |
                          errind.UnsupportedSecurityLevel | errind.AuthenticationFailure |
                          errind.AuthenticationError | errind.NotInTimeWindow):
                raise errors.SnmpAuthError(f"authentication failed: {indication}")
            if isinstance(indication, errind.DeserializationError):
                self._stats.drop("decode")
            raise errors.SnmpError(str(indication))
        if status and int(status) != 0:
            code = int(status)
            if code == 2:  # noSuchName (v1)
                raise errors.SnmpNoSuchName(f"noSuchName at varbind {int(index)}")
            if code == 1:
                raise errors.SnmpError("tooBig")
            raise errors.SnmpError(f"agent error-status {code}")

    def _value(self, value: Any) -> Value | None:
        """Our value type, or None for exception values (noSuchObject/Instance, end of view)."""
        if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance |
                      rfc1905.EndOfMibView) or value is None:
            return None
        if isinstance(value, rfc1902.IpAddress):
            return ".".join(str(b) for b in bytes(value.asOctets()))
        if hasattr(value, "asTuple"):  # any ObjectIdentifier (pyasn1 or rfc1902)
            return str(value)
        if hasattr(value, "asOctets"):  # any OCTET STRING
            return bytes(value.asOctets())
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    # -- requests ---------------------------------------------------------------------------

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        hl = self._hl
        self._stats.requests += 1
        binds = [hl.ObjectType(hl.ObjectIdentity(o)) for o in oids]
        try:
            indication, status, index, varbinds = await hl.get_cmd(
                self._engine, self._auth, self._transport, self._context, *binds,
                lookupMib=False)
        except OSError as exc:
            raise errors.SnmpUnreachable(str(exc)) from None
        if self._v1 and status and int(status) == 2 and len(oids) > 1:
            return await client.get_each_alone(oids, lambda oid: self.get([oid]))
        self._raise_for(indication, status, index)
        result: dict[str, Value] = {}
        for name, value in varbinds:
            converted = self._value(value)
            if converted is not None:
                result[str(name)] = converted
        return result

    async def _walk(self, oid: str, max_repetitions: int, limit: tuple[int, ...] | None
                    ) -> list[tuple[str, Value]]:
        hl = self._hl
        prefix = oid + "."
        out: list[tuple[str, Value]] = []
        last: tuple[int, ...] = ()
        current = oid
        while True:
            self._stats.requests += 1
            bind = hl.ObjectType(hl.ObjectIdentity(current))
            try:
                if self._v1:
                    indication, status, index, varbinds = await hl.next_cmd(
                        self._engine, self._auth, self._transport, self._context, bind,
                        lookupMib=False)
                else:
                    indication, status, index, varbinds = await hl.bulk_cmd(
                        self._engine, self._auth, self._transport, self._context, 0,
                        max_repetitions, bind, lookupMib=False)
            except OSError as exc:
                raise errors.SnmpUnreachable(str(exc)) from None
            if self._v1 and status and int(status) == 2:
                return out  # end of the MIB view
            self._raise_for(indication, status, index)
            if not varbinds:
                return out
            for name, value in varbinds:
                text = str(name)
                index_t = client.walk_index(text, prefix, last, self._stats)
                if index_t is None:
                    return out
                last = index_t
                converted = self._value(value)
                if converted is None:
                    return out  # endOfMibView
                out.append((text, converted))
                current = text
                if client.past_stop(index_t, limit):
                    return out
