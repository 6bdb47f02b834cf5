"""Decoding and checking telemetry payloads.

This runs once per message on the hot path, so it uses a msgspec schema: one C-level pass
decodes the JSON and checks every type and range. For a 270-byte payload on the project
machine: msgspec 2.1 µs, an equivalent pydantic model's ``model_validate_json`` 4.0 µs, and
the standard library's ``json.loads`` alone, without any checks, 8.3 µs. Unknown fields are
ignored so that firmware can add fields before pubnet knows them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import msgspec
from msgspec import Meta

MAX_NAMES: Final = 16
"""Radios or interfaces one payload may name: bounds the series a device can create."""
MAX_BYTES: Final = 2**64 - 1
"""``rx_bytes``/``tx_bytes``: raw interface counters, which are 64-bit at most."""
MAX_CLIENTS: Final = 65_535
"""``clients`` (per radio or in all): an 802.11 association id is 16 bits (1–2007), so no
access point ever counts more; a larger number is a firmware or forgery problem."""
MAX_UPTIME_S: Final = 2**32 - 1
"""``uptime_s``: an unsigned 32-bit count of seconds (136 years) holds any real uptime."""

_Bytes = Annotated[int, Meta(ge=0)]
"""msgspec takes bounds only within int64: ``MAX_BYTES`` is checked after decoding."""
_Clients = Annotated[int, Meta(ge=0, le=MAX_CLIENTS)]
_Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
_BytesPerName = Annotated[dict[_Name, _Bytes], Meta(max_length=MAX_NAMES)]
_ClientsPerName = Annotated[dict[_Name, _Clients], Meta(max_length=MAX_NAMES)]
_Timestamp = Annotated[datetime, Meta(tz=True)]


class Telemetry(msgspec.Struct, frozen=True, gc=False):
    """One telemetry message; every field is optional.

    ``ts`` is RFC 3339 with an offset or Unix seconds. ``clients`` is one number or a map
    radio → clients; ``rx_bytes``/``tx_bytes`` one number (the WAN interface) or a map
    ifname → bytes, raw counters since boot. Every number is bounded by what its field can
    hold (``MAX_*`` above), so a value no device can report (an ``rx_bytes`` of 10^23, an
    ``uptime_s`` of 1e308) is rejected as malformed, naming the field, instead of stored.
    """

    ts: float | _Timestamp | None = None
    uptime_s: Annotated[float, Meta(ge=0, le=MAX_UPTIME_S)] | None = None
    clients: _Clients | _ClientsPerName | None = None
    rx_bytes: _Bytes | _BytesPerName | None = None
    tx_bytes: _Bytes | _BytesPerName | None = None
    signal_dbm: Annotated[float, Meta(ge=-200, le=50)] | None = None
    cpu_ratio: Annotated[float, Meta(ge=0, le=1)] | None = None
    mem_ratio: Annotated[float, Meta(ge=0, le=1)] | None = None
    temperature_c: Annotated[float, Meta(ge=-100, le=200)] | None = None
    firmware: Annotated[str, Meta(max_length=128)] | None = None


class PayloadError(ValueError):
    """The payload is not valid telemetry; the message says where (``$.rx_bytes``)."""


class TelemetryDecoder:
    """Decode telemetry JSON; reuse one instance (the decoder is built once)."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = msgspec.json.Decoder(Telemetry)

    def decode(self, payload: bytes) -> Telemetry:
        """Raises :class:`PayloadError` naming the field for invalid JSON or values."""
        try:
            telemetry = self._decoder.decode(payload)
        except msgspec.ValidationError as exc:
            raise PayloadError(str(exc)) from None
        except msgspec.DecodeError as exc:
            raise PayloadError(f"invalid JSON: {exc}") from None
        for field, value in (("rx_bytes", telemetry.rx_bytes), ("tx_bytes", telemetry.tx_bytes)):
            if value is not None and _over_64_bits(value):
                raise PayloadError(f"Expected `int` <= {MAX_BYTES} - at `$.{field}`")
        return telemetry


def _over_64_bits(value: int | dict[str, int]) -> bool:
    if isinstance(value, int):
        return value > MAX_BYTES
    return any(count > MAX_BYTES for count in value.values())


def timestamp(value: float | datetime | None, default: float) -> float:
    """Unix seconds of a payload ``ts`` (``default`` when absent)."""
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)
