"""SNMPv3 for simulated devices: the message format (RFC 3412) and USM (RFC 3414, 3826, 7860).

Enough of an authoritative engine for pollers to talk v3 to the simulator as to a real
agent: engine discovery (usmStatsUnknownEngineIDs report), timeliness, HMAC-MD5/SHA-1/SHA-2
authentication and DES / AES-128 / AES-192 / AES-256 (Blumenthal key extension, net-snmp's
``AES192``/``AES256``) privacy. Every device is its own engine (its own engine ID, boots and
time), so a poller's per-engine key cache sees a realistic fleet.

Password-to-key (a megabyte of hashing) is done once per password and hash, then localised
per device on its first v3 request; see :class:`KeyCache`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pubnet.ber import (
    BerError,
    Tag,
    encode_int,
    read_header,
    read_integer,
    tlv,
)

MAC_LENGTH = {"md5": 12, "sha": 12, "sha224": 16, "sha256": 24, "sha384": 32, "sha512": 48}
HASH_NAME = {"md5": "md5", "sha": "sha1", "sha224": "sha224", "sha256": "sha256",
             "sha384": "sha384", "sha512": "sha512"}
PRIV_KEY_LENGTH = {"des": 16, "aes128": 16, "aes192": 24, "aes256": 32}

FLAG_AUTH = 0x01
FLAG_PRIV = 0x02
FLAG_REPORTABLE = 0x04

USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
UNSUPPORTED_SEC_LEVELS = (*USM_STATS, 1, 0)
NOT_IN_TIME_WINDOWS = (*USM_STATS, 2, 0)
UNKNOWN_USER_NAMES = (*USM_STATS, 3, 0)
UNKNOWN_ENGINE_IDS = (*USM_STATS, 4, 0)
WRONG_DIGESTS = (*USM_STATS, 5, 0)
DECRYPTION_ERRORS = (*USM_STATS, 6, 0)

TIME_WINDOW = 150
MAX_MESSAGE_SIZE = 65507


class UsmError(Exception):
    """A request USM rejects; ``report`` is the usmStats OID to report (None: drop)."""

    def __init__(self, reason: str, report: tuple[int, ...] | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.report = report


def engine_id_for(index: int) -> bytes:
    """A per-device snmpEngineID: net-snmp's enterprise number, text format."""
    return b"\x80\x00\x1f\x88\x04" + f"pubnet-sim-{index}".encode("ascii")


def password_to_key(password: bytes, auth: str) -> bytes:
    """RFC 3414 A.2: hash 1 MB of the repeated password."""
    if not password:
        raise ValueError("an empty SNMPv3 password")
    repeated = (password * (1_048_576 // len(password) + 1))[:1_048_576]
    return hashlib.new(HASH_NAME[auth], repeated).digest()


def localize(key: bytes, engine_id: bytes, auth: str) -> bytes:
    return hashlib.new(HASH_NAME[auth], key + engine_id + key).digest()


def extend_key(key: bytes, length: int, auth: str) -> bytes:
    """Blumenthal key extension (draft-blumenthal-aes-usm-04 3.1.2.1): K || H(K) ..."""
    while len(key) < length:
        key += hashlib.new(HASH_NAME[auth], key).digest()
    return key[:length]


class KeyCache:
    """Password → master key, computed once per (password, hash) for the whole fleet."""

    def __init__(self) -> None:
        self._keys: dict[tuple[bytes, str], bytes] = {}

    def master(self, password: bytes, auth: str) -> bytes:
        found = self._keys.get((password, auth))
        if found is None:
            found = self._keys[(password, auth)] = password_to_key(password, auth)
        return found


@dataclass(frozen=True, slots=True)
class UserSpec:
    """A v3 user a device accepts, as configured (passwords not yet localised)."""

    name: bytes
    auth: str | None
    auth_password: bytes
    priv: str | None
    priv_password: bytes

    @property
    def flags(self) -> int:
        return (FLAG_AUTH if self.auth else 0) | (FLAG_PRIV if self.priv else 0)


@dataclass(frozen=True, slots=True)
class LocalUser:
    """A user with keys localised to one engine."""

    spec: UserSpec
    auth_key: bytes
    priv_key: bytes
    _mac: hmac.HMAC | None = field(default=None, repr=False, compare=False)
    """An HMAC keyed once; each message MACs a copy (saves the key setup per request)."""

    def __post_init__(self) -> None:
        if self.spec.auth:
            object.__setattr__(self, "_mac", hmac.new(self.auth_key, digestmod=HASH_NAME[
                self.spec.auth]))

    @classmethod
    def build(cls, spec: UserSpec, engine_id: bytes, keys: KeyCache) -> LocalUser:
        auth_key = priv_key = b""
        if spec.auth:
            auth_key = localize(keys.master(spec.auth_password, spec.auth), engine_id,
                                spec.auth)
            if spec.priv:
                priv_key = localize(keys.master(spec.priv_password, spec.auth), engine_id,
                                    spec.auth)
                priv_key = extend_key(priv_key, PRIV_KEY_LENGTH[spec.priv], spec.auth)
        return cls(spec, auth_key, priv_key)

    def mac(self, message: bytes) -> bytes:
        assert self.spec.auth is not None and self._mac is not None
        keyed = self._mac.copy()
        keyed.update(message)
        return keyed.digest()[:MAC_LENGTH[self.spec.auth]]

    def _cipher(self, boots: int, engine_time: int, salt: bytes) -> Cipher[modes.CBC] | Cipher[CFB]:
        if self.spec.priv == "des":
            iv = bytes(a ^ b for a, b in zip(self.priv_key[8:16], salt, strict=True))
            return Cipher(TripleDES(self.priv_key[:8] * 3), modes.CBC(iv))  # K1=K2=K3: DES
        iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
        return Cipher(algorithms.AES(self.priv_key), CFB(iv))

    def decrypt(self, data: bytes, boots: int, engine_time: int, salt: bytes) -> bytes:
        if len(salt) != 8 or (self.spec.priv == "des" and len(data) % 8):
            raise UsmError("decrypt", DECRYPTION_ERRORS)
        decryptor = self._cipher(boots, engine_time, salt).decryptor()
        return decryptor.update(data) + decryptor.finalize()

    def encrypt(self, data: bytes, boots: int, engine_time: int, salt: bytes) -> bytes:
        if self.spec.priv == "des" and len(data) % 8:
            data += b"\0" * (8 - len(data) % 8)
        encryptor = self._cipher(boots, engine_time, salt).encryptor()
        return encryptor.update(data) + encryptor.finalize()


@dataclass(frozen=True, slots=True)
class V3Message:
    """A parsed SNMPv3 message; ``auth_at`` is where the MAC sits in ``raw``."""

    raw: bytes
    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    engine_time: int
    user: bytes
    auth_params: bytes
    auth_at: int
    priv_params: bytes
    data: bytes
    """The ScopedPDU, or the encrypted one when the priv flag is set."""


def _octets(buf: bytes, pos: int, end: int) -> tuple[bytes, int, int]:
    tag, start, stop = read_header(buf, pos, end)
    if tag != Tag.OCTET_STRING:
        raise BerError("expected an OCTET STRING")
    return buf[start:stop], start, stop


def parse_v3(raw: bytes) -> V3Message:
    """Parse an SNMPv3/USM message; raises :class:`BerError`."""
    try:
        end = len(raw)
        tag, pos, stop = read_header(raw, 0, end)
        if tag != Tag.SEQUENCE:
            raise BerError("message is not a SEQUENCE")
        version, pos = read_integer(raw, pos, stop)
        if version != 3:
            raise BerError("not SNMPv3")
        tag, gpos, gend = read_header(raw, pos, stop)
        if tag != Tag.SEQUENCE:
            raise BerError("msgGlobalData is not a SEQUENCE")
        msg_id, gpos = read_integer(raw, gpos, gend)
        max_size, gpos = read_integer(raw, gpos, gend)
        flags_raw, _s, gpos = _octets(raw, gpos, gend)
        model, gpos = read_integer(raw, gpos, gend)
        if len(flags_raw) != 1 or model != 3:
            raise BerError("bad msgFlags or security model")
        _params, spos, pos = _octets(raw, gend, stop)
        tag, spos, send = read_header(raw, spos, pos)
        if tag != Tag.SEQUENCE:
            raise BerError("UsmSecurityParameters is not a SEQUENCE")
        engine_id, _s, spos = _octets(raw, spos, send)
        boots, spos = read_integer(raw, spos, send)
        engine_time, spos = read_integer(raw, spos, send)
        user, _s, spos = _octets(raw, spos, send)
        auth_params, auth_at, spos = _octets(raw, spos, send)
        priv_params, _s, spos = _octets(raw, spos, send)
        tag, dstart, dstop = read_header(raw, pos, stop)
        flags = flags_raw[0]
        if flags & FLAG_PRIV:
            if tag != Tag.OCTET_STRING:
                raise BerError("encryptedPDU is not an OCTET STRING")
            data = raw[dstart:dstop]
        else:
            data = raw[pos:dstop]
        return V3Message(raw, msg_id, max_size, flags, engine_id, boots, engine_time, user,
                         auth_params, auth_at, priv_params, data)
    except (IndexError, ValueError) as exc:
        if isinstance(exc, BerError):
            raise
        raise BerError(str(exc)) from None


def parse_scoped(data: bytes) -> tuple[bytes, bytes, bytes]:
    """ScopedPDU → (contextEngineID, contextName, PDU bytes); trailing padding ignored."""
    tag, pos, stop = read_header(data, 0, len(data))
    if tag != Tag.SEQUENCE:
        raise BerError("ScopedPDU is not a SEQUENCE")
    context_engine, _s, pos = _octets(data, pos, stop)
    context_name, _s, pos = _octets(data, pos, stop)
    _tag, _start, pdu_end = read_header(data, pos, stop)
    return context_engine, context_name, data[pos:pdu_end]


def build_v3(msg_id: int, flags: int, engine_id: bytes, boots: int, engine_time: int,
             user_name: bytes, scoped: bytes, user: LocalUser | None,
             salt_source: Callable[[], bytes] = lambda: os.urandom(8)) -> bytes:
    """An outgoing message; authenticated/encrypted per ``flags`` with ``user``'s keys."""
    salt = b""
    data = scoped
    if flags & FLAG_PRIV:
        assert user is not None
        salt = salt_source()
        data = tlv(Tag.OCTET_STRING, user.encrypt(scoped, boots, engine_time, salt))
    mac_length = MAC_LENGTH[user.spec.auth] if (flags & FLAG_AUTH and user and user.spec.auth) \
        else 0
    head = (tlv(Tag.OCTET_STRING, engine_id) + encode_int(boots) + encode_int(engine_time)
            + tlv(Tag.OCTET_STRING, user_name))
    params = tlv(Tag.SEQUENCE, head + tlv(Tag.OCTET_STRING, b"\0" * mac_length)
                 + tlv(Tag.OCTET_STRING, salt))
    global_data = tlv(Tag.SEQUENCE, encode_int(msg_id) + encode_int(MAX_MESSAGE_SIZE)
                      + tlv(Tag.OCTET_STRING, bytes((flags,))) + encode_int(3))
    message = tlv(Tag.SEQUENCE, encode_int(3) + global_data + tlv(Tag.OCTET_STRING, params)
                  + data)
    if not mac_length:
        return message
    assert user is not None
    # The MAC placeholder is the only OCTET STRING of mac_length zero bytes after `head`.
    marker = tlv(Tag.OCTET_STRING, b"\0" * mac_length)
    at = message.index(head) + len(head) + len(marker) - mac_length
    return message[:at] + user.mac(message) + message[at + mac_length:]


def verify(message: V3Message, user: LocalUser) -> bool:
    """Check the MAC over the message with the MAC field zeroed."""
    if user.spec.auth is None or len(message.auth_params) != MAC_LENGTH[user.spec.auth]:
        return False
    at, size = message.auth_at, len(message.auth_params)
    zeroed = message.raw[:at] + b"\0" * size + message.raw[at + size:]
    return hmac.compare_digest(user.mac(zeroed), message.auth_params)
