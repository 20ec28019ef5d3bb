"""CRC-32 used by the wire protocol: the ISO-HDLC / IEEE 802.3 / zlib CRC-32.

Parameters (Rocksoft model): width 32, poly 0x04C11DB7 (reflected 0xEDB88320),
init 0xFFFFFFFF, refin = refout = true, xorout 0xFFFFFFFF, check("123456789") =
0xCBF43926. ``zlib.crc32`` computes exactly this; :func:`crc32_bitwise` is the
table-free reference a firmware author can port line by line.
"""

from __future__ import annotations

import zlib

__all__ = ["CRC32_CHECK", "crc32", "crc32_bitwise"]

#: CRC-32 of the ASCII bytes "123456789".
CRC32_CHECK = 0xCBF43926


def crc32(data: bytes, crc: int = 0) -> int:
    """CRC-32 of ``data`` (continue a running value by passing the previous result)."""
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def crc32_bitwise(data: bytes) -> int:
    """Bit-at-a-time CRC-32 (slow; the reference the C codec mirrors)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF
