"""Consistent Overhead Byte Stuffing (Cheshire & Baker 1999) without the delimiter.

``encode`` removes every 0x00 from a block so that 0x00 can delimit frames on the wire.
Overhead is at most ``ceil(n / 254)`` bytes for an ``n``-byte block (1 byte for n = 0).
The encoding is the canonical one (as in the Wikipedia examples): a maximal 254-byte
run at the very end of the block is *not* followed by an extra 0x01 code byte.
``decode`` also accepts that redundant trailing 0x01 (it decodes to nothing).
"""

from __future__ import annotations

import contextlib
import os
from operator import itemgetter

import numpy as np

__all__ = ["CobsError", "encode", "decode", "decode_python", "max_encoded_size", "ACCELERATED"]

# The firmware's C decoder (c/emg_proto.c) bound as an optional extension; EMG_BRIDGE_CODEC=python
# forces the Python decoder (for comparison and benchmarks).
if os.environ.get("EMG_BRIDGE_CODEC", "").lower() == "python":
    _c_decode = None
else:
    try:
        from firmware_bridge.codec._ccodec import cobs_decode as _c_decode
    except ImportError:  # not built (no compiler at install time): pure Python
        _c_decode = None
#: True when decoding runs in the compiled firmware codec.
ACCELERATED = _c_decode is not None


class CobsError(ValueError):
    """The input is not a valid COBS block (zero byte, or a code running past the end)."""


def max_encoded_size(n: int) -> int:
    """Worst-case COBS size in bytes of an ``n``-byte block (no delimiter)."""
    return n + max(1, -(-n // 254))


def encode(data: bytes) -> bytes:
    """COBS-encode ``data``; the result contains no 0x00 byte."""
    data = bytes(data)
    if len(data) >= _VECTORISE_FROM:
        arr = np.frombuffer(data, dtype=np.uint8)
        zeros = np.flatnonzero(arr == 0)
        if len(zeros):
            codes = np.diff(zeros, prepend=-1, append=len(data))
            if codes.max() <= 254:
                # No run reaches 254 bytes: each zero becomes the distance to the next zero
                # (or to the end + 1), and the first code byte is prepended.
                out = arr.copy()
                out[zeros] = codes[1:]
                return bytes([codes[0]]) + out.tobytes()
    return _encode_loop(data)


def _encode_loop(data: bytes) -> bytes:
    """Reference encoder (handles 254-byte runs)."""
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
    if _c_decode is not None:
        try:
            return _c_decode(block)
        except ValueError:
            pass  # invalid: the Python decoder below raises CobsError with the reason
    return decode_python(block)


@contextlib.contextmanager
def python_decoder():
    """Within the block, :func:`decode` uses the Python decoder even where the compiled one is
    built (benchmarks compare the two in one run). Not thread-safe: it swaps a module global."""
    global _c_decode
    saved, _c_decode = _c_decode, None
    try:
        yield
    finally:
        _c_decode = saved


def decode_python(block: bytes) -> bytes:
    """The Python decoder (the same output as the compiled one; used when it is not built)."""
    if len(block) < _VECTORISE_FROM:
        return _decode_loop(block)
    return _decode_vectorised(block)


#: Blocks at least this long are decoded with numpy (fewer Python-level operations).
_VECTORISE_FROM = 64


def _decode_loop(block: bytes) -> bytes:
    """Reference decoder: one Python step per code block."""
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


def _decode_vectorised(block: bytes) -> bytes:
    """Same result as :func:`_decode_loop`: only the walk over code bytes is a Python loop.

    Each code byte after the first becomes the 0x00 that ends the previous block, or is
    removed when the previous block was a full 0xFF run; the first code byte is removed.
    """
    block = bytes(block)
    n = len(block)
    if n == 0:
        raise CobsError("empty COBS block")
    if block.find(b"\x00") >= 0:
        raise CobsError("zero byte inside COBS block")
    positions = []
    append = positions.append
    i = 0
    while i < n:
        append(i)
        i += block[i]
    if i != n:
        raise CobsError(f"last COBS code runs past the end ({n} bytes)")
    arr = np.frombuffer(block, dtype=np.uint8).copy()
    codes = itemgetter(*positions)(block) if len(positions) > 1 else (block[0],)
    if 0xFF not in codes:  # common case: every code byte becomes a 0x00, the first is dropped
        arr[positions] = 0
        return arr[1:].tobytes()
    pos = np.array(positions, dtype=np.intp)
    after_full = arr[pos[:-1]] == 0xFF  # code byte at pos[k+1] follows a full run
    arr[pos[1:][~after_full]] = 0
    if not after_full.any():
        return arr[1:].tobytes()
    keep = np.ones(n, dtype=bool)
    keep[0] = False
    keep[pos[1:][after_full]] = False
    return arr[keep].tobytes()
