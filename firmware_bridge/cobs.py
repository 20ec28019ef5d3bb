"""Consistent Overhead Byte Stuffing (Cheshire & Baker 1999) without the delimiter.

``encode`` removes every 0x00 from a block so that 0x00 can delimit frames on the wire.
Overhead is at most ``ceil(n / 254)`` bytes for an ``n``-byte block (1 byte for n = 0).
The encoding is the canonical one (as in the Wikipedia examples): a maximal 254-byte
run at the very end of the block is *not* followed by an extra 0x01 code byte.
``decode`` also accepts that redundant trailing 0x01 (it decodes to nothing).
"""

from __future__ import annotations

__all__ = ["CobsError", "encode", "decode", "max_encoded_size"]


class CobsError(ValueError):
    """The input is not a valid COBS block (zero byte, or a code running past the end)."""


def max_encoded_size(n: int) -> int:
    """Worst-case COBS size in bytes of an ``n``-byte block (no delimiter)."""
    return n + max(1, -(-n // 254))


def encode(data: bytes) -> bytes:
    """COBS-encode ``data``; the result contains no 0x00 byte."""
    out = bytearray()
    parts = bytes(data).split(b"\x00")
    last = len(parts) - 1
    for k, part in enumerate(parts):
        # Each part except the last is followed by an (implicit) zero.
        start, n = 0, len(part)
        while n - start >= 254:
            out.append(0xFF)
            out += part[start:start + 254]
            start += 254
        if start == n and start > 0 and k == last:
            break  # canonical: no 0x01 after a final full run
        out.append(n - start + 1)
        out += part[start:]
    return bytes(out)


def decode(block: bytes) -> bytes:
    """Decode one COBS block (without its 0x00 delimiter); raises :class:`CobsError`."""
    n = len(block)
    if n == 0:
        raise CobsError("empty COBS block")
    out = bytearray()
    i = 0
    while i < n:
        code = block[i]
        if code == 0:
            raise CobsError(f"zero byte inside COBS block at offset {i}")
        j = i + code
        if j > n:
            raise CobsError(f"COBS code {code} at offset {i} runs past the end ({n} bytes)")
        chunk = block[i + 1:j]
        if 0 in chunk:
            raise CobsError("zero byte inside COBS block")
        out += chunk
        i = j
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
